// Throughput of HREM's score() at the benchmark shapes shared by the models
// (36 regions, 12 words, d = 1024), and of its encoders, which are where an
// embedding model spends its inference time.
//   build/bench_hrem [--threads=N] [benchmark flags]
// Work per pair: one 1024-d dot product, 2 * 1024 = 2,048 FLOP (the
// instance-level module is training-only and never runs here).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstring>

#include "scenematch/core/runtime.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/matcher.h"

using namespace sm;

namespace {

constexpr int64_t kDim = 1024, kRegions = 36, kWords = 12, kFeatures = 2048;
constexpr int64_t kImageBlock = 128, kCaptionBlock = 640;    // the blocks similarity_matrix() scores
constexpr int64_t kTestImages = 1000, kTestCaptions = 5000;  // Flickr30K / COCO-1K test matrix
constexpr double kFlopPerPair = 2.0 * kDim;

Vocab bench_vocab() {
  std::vector<std::string> words;
  for (int i = 2; i < 100; ++i) words.push_back("w" + std::to_string(i));
  return Vocab::build({words}, 1);
}

MatcherPtr make_model() {
  auto model = make_matcher("hrem", matcher_preset("hrem", "paper"), bench_vocab());
  model->eval();
  return model;
}

Encoding random_embeddings(int64_t n) {
  Encoding e;
  e["emb"] = l2norm(torch::randn({n, kDim}));
  return e;
}

void report(benchmark::State& state, double pairs) {
  state.counters["pairs/s"] = benchmark::Counter(pairs, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(pairs * kFlopPerPair / 1e9, benchmark::Counter::kIsRate);
}

// One block of the size evaluation scores at a time.
void BM_HremScoreBlock(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = random_embeddings(kImageBlock), captions = random_embeddings(kCaptionBlock);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->score(images, captions));
  report(state, double(state.iterations()) * kImageBlock * kCaptionBlock);
}
BENCHMARK(BM_HremScoreBlock)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole 1,000 x 5,000 test matrix, block by block.
void BM_HremScoreTestMatrix(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = random_embeddings(kTestImages), captions = random_embeddings(kTestCaptions);
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
BENCHMARK(BM_HremScoreTestMatrix)->Unit(benchmark::kMillisecond)->UseRealTime();

// Encoders at the paper's sizes (FC + Transformer layer + pooling), 128 items a call.
void BM_HremEncodeImages(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  ImageBatch batch;
  for (int64_t i = 0; i < kImageBlock; ++i) batch.ids.push_back(i);
  batch.features = torch::randn({kImageBlock, kRegions, kFeatures});
  batch.region_mask = torch::ones({kImageBlock, kRegions}, torch::kBool);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->encode_images(batch));
  state.counters["items/s"] = benchmark::Counter(double(state.iterations()) * kImageBlock, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_HremEncodeImages)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_HremEncodeCaptions(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  CaptionBatch batch;
  for (int64_t i = 0; i < kImageBlock; ++i) batch.ids.push_back(i);
  batch.tokens = torch::randint(2, 100, {kImageBlock, kWords}, torch::kInt64);
  batch.lengths = torch::full({kImageBlock}, kWords, torch::kInt64);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->encode_captions(batch));
  state.counters["items/s"] = benchmark::Counter(double(state.iterations()) * kImageBlock, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_HremEncodeCaptions)->Unit(benchmark::kMillisecond)->UseRealTime();

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
