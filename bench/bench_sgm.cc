// Throughput of SGM's score() at the paper's shapes: 36 object nodes and 25
// relation nodes per image, 12 words and 4 triplets per caption, d = 1024, on
// random unit vectors (scoring cost does not depend on the encoders).
//   build/bench_sgm [--threads=N] [benchmark flags]
// Work per pair: the object level is a 12 x 36 block of 1024-d dot products, the
// relation level 4 x 25: 2 * 1024 * (12 * 36 + 4 * 25) = 1,089,536 FLOP; the
// max/mean reductions are O(L * R) and not counted.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstring>

#include "scenematch/core/runtime.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/matcher.h"
#include "support.h"

using namespace sm;

namespace {

constexpr int64_t kDim = 1024, kObjects = 36, kRelations = 25, kWords = 12, kTriplets = 4;
constexpr double kFlopPerPair = 2.0 * kDim * (kWords * kObjects + kTriplets * kRelations);

MatcherPtr make_model() {
  Config cfg = matcher_preset("sgm", "paper");
  return make_matcher("sgm", cfg, bench::bench_vocab());
}

Encoding random_images(int64_t n) {
  Encoding e;
  e["objects"] = l2norm(torch::randn({n, kObjects, kDim}));
  e["object_mask"] = torch::ones({n, kObjects}, torch::kBool);
  e["relations"] = l2norm(torch::randn({n, kRelations, kDim}));
  e["relation_mask"] = torch::ones({n, kRelations}, torch::kBool);
  return e;
}

Encoding random_captions(int64_t n) {
  Encoding e;
  e["words"] = l2norm(torch::randn({n, kWords, kDim}));
  e["word_mask"] = torch::ones({n, kWords}, torch::kBool);
  e["paths"] = l2norm(torch::randn({n, kTriplets, kDim}));
  e["path_mask"] = torch::ones({n, kTriplets}, torch::kBool);
  return e;
}

// One block of the size evaluation scores at a time.
void BM_SgmScoreBlock(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = random_images(bench::kImageBlock), captions = random_captions(bench::kCaptionBlock);
  bench::score_block(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_SgmScoreBlock)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole 1,000 x 5,000 test matrix, block by block.
void BM_SgmScoreTestMatrix(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = random_images(bench::kTestImages), captions = random_captions(bench::kTestCaptions);
  bench::score_whole_matrix(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_SgmScoreTestMatrix)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return sm::bench::run_benchmarks(argc, argv); }
