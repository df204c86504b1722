// Throughput of GSMN's score() at the paper's shapes: 36 regions, 12 words,
// d = 1024, t = 16 blocks, 8 kernels of 4, MLP 32, on random encodings (the
// scoring cost does not depend on the encoders).
//   build/bench_gsmn [--threads=N] [benchmark flags]
// FLOP per pair, as score() computes it (see gsmn.cc):
//   block products P = U_b V_b^T          2 L R d              = 884,736
//   |c|^2 quadratic forms, both ways      2 L R t (R + L)      = 663,552
//   dot and quadratic-form reductions     4 * 2 L R t          =  55,296
//   text graph: W_e x, W_k, MLP           2 L (L t + t Ko + Ko h + h)
//   visual graph: W_k, kernels, MLP       2 R (t Ko + K R o + Ko h + h)
// = 1,841,664 FLOP. Forming the attended vectors c = A V and A' U instead, as
// the equations read, costs 2 L R d per direction plus the block cosines over d:
// about 3.19 MFLOP per pair by the same count for the same scores.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstring>

#include "scenematch/core/runtime.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/matcher.h"
#include "support.h"

using namespace sm;

namespace {

constexpr int64_t kDim = 1024, kRegions = 36, kWords = 12, kBlocks = 16, kKernels = 8, kKernelDim = 4, kHidden = 32;
constexpr double L = kWords, R = kRegions, t = kBlocks, Ko = kKernels * kKernelDim;
constexpr double kFlopPerPair = 2 * L * R * kDim + 2 * L * R * t * (R + L) + 4 * 2 * L * R * t +
                                2 * L * (L * t + t * Ko + Ko * kHidden + kHidden) +
                                2 * R * (t * Ko + kKernels * R * kKernelDim + Ko * kHidden + kHidden);

MatcherPtr make_model(const std::string& graph) {
  Config cfg = matcher_preset("gsmn", "paper");
  cfg["graph"] = graph;
  return make_matcher("gsmn", cfg, bench::bench_vocab());
}

Encoding random_images(int64_t n) {
  Encoding e;
  e["regions"] = l2norm(torch::randn({n, kRegions, kDim}));
  e["region_mask"] = torch::ones({n, kRegions}, torch::kBool);
  e["graph"] = torch::softmax(torch::randn({n, kKernels, kRegions, kRegions}), -1);
  return e;
}

Encoding random_captions(int64_t n) {
  Encoding e;
  e["words"] = l2norm(torch::randn({n, kWords, kDim}));
  e["word_mask"] = torch::ones({n, kWords}, torch::kBool);
  e["graph"] = torch::softmax(torch::randn({n, kWords, kWords}), -1);
  return e;
}

// One block of the size evaluation scores at a time (dense graph; the sparse
// one differs only in the edge weights the encoders produce).
void BM_GsmnScoreBlock(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model("dense");
  Encoding images = random_images(bench::kImageBlock), captions = random_captions(bench::kCaptionBlock);
  bench::score_block(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_GsmnScoreBlock)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole 1,000 x 5,000 test matrix, block by block (several minutes).
void BM_GsmnScoreTestMatrix(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model("dense");
  Encoding images = random_images(bench::kTestImages), captions = random_captions(bench::kTestCaptions);
  bench::score_whole_matrix(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_GsmnScoreTestMatrix)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return sm::bench::run_benchmarks(argc, argv); }
