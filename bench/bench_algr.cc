// Throughput of ALGR at the benchmark shapes shared by the models: 36 regions
// per image, 12 words per caption, d = 1024 (the paper uses 2048).
//   build/bench_algr [--threads=N] [benchmark flags]
// Inference is embedding-based (Eq. 12): score() is one GEMM of unit readouts,
// 2 * d = 2,048 FLOP per pair, whatever the graph sizes. The graph work is
// done once per item by the encoders, measured here too:
//   image:   projection 2*R*F*d + query/key/W_1 3 * 2*R*d*d + S and W_e(XW) 2 * 2*R*R*d
//   caption: BiGRU 2 directions * L * 2*3*(w*d + d*d) (w = 300-d words) + query/key/W^t 3 * 2*L*d*d
//            + S and W_e(XW) 2 * 2*L*L*d + per GGNN step (W_a, 3 input, 2 gate, F_z: 7 * 2*L*d*d + 2*L*L*d)
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstring>

#include "scenematch/core/runtime.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/matcher.h"
#include "support.h"

using namespace sm;

namespace {

constexpr int64_t kDim = 1024, kFeatures = 2048, kRegions = 36, kWords = 12, kWordDim = 300, kSteps = 2;
constexpr double kFlopPerPair = 2.0 * kDim;
constexpr double kFlopPerImage =
    2.0 * kRegions * kFeatures * kDim + 3 * 2.0 * kRegions * kDim * kDim + 2 * 2.0 * kRegions * kRegions * kDim;
constexpr double kFlopPerCaption = 2 * kWords * 2.0 * 3 * (kWordDim * kDim + kDim * kDim) +
                                   3 * 2.0 * kWords * kDim * kDim + 2 * 2.0 * kWords * kWords * kDim +
                                   kSteps * (7 * 2.0 * kWords * kDim * kDim + 2.0 * kWords * kWords * kDim);

MatcherPtr make_model() {
  Config cfg = matcher_preset("algr", "paper");
  cfg["embed_size"] = kDim;
  cfg["feature_dim"] = kFeatures;
  cfg["word_dim"] = kWordDim;
  cfg["ggnn_steps"] = kSteps;
  auto model = make_matcher("algr", cfg, bench::bench_vocab());
  model->eval();
  return model;
}

// One block of the size evaluation scores at a time.
void BM_AlgrScoreBlock(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = bench::unit_embeddings(bench::kImageBlock, kDim),
           captions = bench::unit_embeddings(bench::kCaptionBlock, kDim);
  bench::score_block(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_AlgrScoreBlock)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The whole 1,000 x 5,000 test matrix, block by block.
void BM_AlgrScoreTestMatrix(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = bench::unit_embeddings(bench::kTestImages, kDim),
           captions = bench::unit_embeddings(bench::kTestCaptions, kDim);
  bench::score_whole_matrix(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_AlgrScoreTestMatrix)->Unit(benchmark::kMillisecond)->UseRealTime();

// Graph construction + encoder + readout of 128 images (36 regions of 2048-d features).
void BM_AlgrEncodeImages(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  ImageBatch batch;
  for (int64_t i = 0; i < bench::kImageBlock; ++i) batch.ids.push_back(i);
  batch.features = torch::randn({bench::kImageBlock, kRegions, kFeatures});
  batch.region_mask = torch::ones({bench::kImageBlock, kRegions}, torch::kBool);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->encode_images(batch));
  bench::report(state, double(state.iterations()) * bench::kImageBlock, kFlopPerImage, "images/s");
}
BENCHMARK(BM_AlgrEncodeImages)->Unit(benchmark::kMillisecond)->UseRealTime();

// BiGRU + graph construction + SA-GNN + GGNN + readout of 128 twelve-word captions.
void BM_AlgrEncodeCaptions(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  CaptionBatch batch;
  for (int64_t i = 0; i < bench::kImageBlock; ++i) batch.ids.push_back(i);
  batch.tokens = torch::randint(2, 100, {bench::kImageBlock, kWords}, torch::kInt64);
  batch.lengths = torch::full({bench::kImageBlock}, kWords, torch::kInt64);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->encode_captions(batch));
  bench::report(state, double(state.iterations()) * bench::kImageBlock, kFlopPerCaption, "captions/s");
}
BENCHMARK(BM_AlgrEncodeCaptions)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return sm::bench::run_benchmarks(argc, argv); }
