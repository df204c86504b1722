// Throughput of ReSG's score() at the benchmark shapes shared by the models:
// 36 regions per image, 12 words per caption, d = 1024 (the paper uses
// D = 2048; scoring cost is linear in d), on random unit vectors (scoring cost
// does not depend on the encoders).
//   build/bench_resg [--threads=N] [benchmark flags]
// Work per pair: one 12 x 36 block of 1024-d dot products (both directions,
// Eqs. 15-16, reuse it): 2 * 1024 * 12 * 36 = 884,736 FLOP; the two max
// reductions and the pooling are O(L * R) and not counted.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstring>

#include "scenematch/core/runtime.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/matcher.h"

using namespace sm;

namespace {

constexpr int64_t kDim = 1024, kRegions = 36, kWords = 12;
constexpr int64_t kImageBlock = 128, kCaptionBlock = 640;    // the blocks similarity_matrix() scores
constexpr int64_t kTestImages = 1000, kTestCaptions = 5000;  // Flickr30K / COCO-1K test matrix
constexpr double kFlopPerPair = 2.0 * kDim * kWords * kRegions;

MatcherPtr make_model() {
  Config cfg = matcher_preset("resg", "paper");
  cfg["embed_size"] = kDim;
  std::vector<std::string> words;
  for (int i = 2; i < 100; ++i) words.push_back("w" + std::to_string(i));
  return make_matcher("resg", cfg, Vocab::build({words}, 1));
}

Encoding random_images(int64_t n) {
  Encoding e;
  e["nodes"] = l2norm(torch::randn({n, kRegions, kDim}));
  e["mask"] = torch::ones({n, kRegions}, torch::kBool);
  return e;
}

Encoding random_captions(int64_t n) {
  Encoding e;
  e["nodes"] = l2norm(torch::randn({n, kWords, kDim}));
  e["mask"] = torch::ones({n, kWords}, torch::kBool);
  return e;
}

void report(benchmark::State& state, double pairs) {
  state.counters["pairs/s"] = benchmark::Counter(pairs, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(pairs * kFlopPerPair / 1e9, benchmark::Counter::kIsRate);
}

// One block of the size evaluation scores at a time.
void BM_ResgScoreBlock(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = random_images(kImageBlock), captions = random_captions(kCaptionBlock);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->score(images, captions));
  report(state, double(state.iterations()) * kImageBlock * kCaptionBlock);
}
BENCHMARK(BM_ResgScoreBlock)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole 1,000 x 5,000 test matrix, block by block.
void BM_ResgScoreTestMatrix(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = random_images(kTestImages), captions = random_captions(kTestCaptions);
  torch::NoGradGuard no_grad;
  torch::Tensor out = torch::empty({kTestImages, kTestCaptions});
  for (auto _ : state)
    for (int64_t i = 0; i < kTestImages; i += kImageBlock)
      for (int64_t c = 0; c < kTestCaptions; c += kCaptionBlock) {
        const int64_t i1 = std::min(kTestImages, i + kImageBlock), c1 = std::min(kTestCaptions, c + kCaptionBlock);
        out.slice(0, i, i1).slice(1, c, c1).copy_(model->score(images.slice(i, i1), captions.slice(c, c1)));
      }
  report(state, double(state.iterations()) * kTestImages * kTestCaptions);
}
BENCHMARK(BM_ResgScoreTestMatrix)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  ensure_blas_kernels(argc, argv);
  int threads = 2;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      threads = std::atoi(argv[i] + 10);
    else
      rest.push_back(argv[i]);
  }
  set_threads(threads);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
