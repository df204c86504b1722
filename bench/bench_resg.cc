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
#include "support.h"

using namespace sm;

namespace {

constexpr int64_t kDim = 1024, kRegions = 36, kWords = 12;
constexpr double kFlopPerPair = 2.0 * kDim * kWords * kRegions;

MatcherPtr make_model() {
  Config cfg = matcher_preset("resg", "paper");
  cfg["embed_size"] = kDim;
  return make_matcher("resg", cfg, bench::bench_vocab());
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

// One block of the size evaluation scores at a time.
void BM_ResgScoreBlock(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = random_images(bench::kImageBlock), captions = random_captions(bench::kCaptionBlock);
  bench::score_block(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_ResgScoreBlock)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole 1,000 x 5,000 test matrix, block by block.
void BM_ResgScoreTestMatrix(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = random_images(bench::kTestImages), captions = random_captions(bench::kTestCaptions);
  bench::score_whole_matrix(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_ResgScoreTestMatrix)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return sm::bench::run_benchmarks(argc, argv); }
