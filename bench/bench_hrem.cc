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
#include "support.h"

using namespace sm;

namespace {

constexpr int64_t kDim = 1024, kRegions = 36, kWords = 12, kFeatures = 2048;
constexpr double kFlopPerPair = 2.0 * kDim;

MatcherPtr make_model() {
  auto model = make_matcher("hrem", matcher_preset("hrem", "paper"), bench::bench_vocab());
  model->eval();
  return model;
}

// One block of the size evaluation scores at a time.
void BM_HremScoreBlock(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = bench::unit_embeddings(bench::kImageBlock, kDim),
           captions = bench::unit_embeddings(bench::kCaptionBlock, kDim);
  bench::score_block(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_HremScoreBlock)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole 1,000 x 5,000 test matrix, block by block.
void BM_HremScoreTestMatrix(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  Encoding images = bench::unit_embeddings(bench::kTestImages, kDim),
           captions = bench::unit_embeddings(bench::kTestCaptions, kDim);
  bench::score_whole_matrix(state, *model, images, captions, kFlopPerPair);
}
BENCHMARK(BM_HremScoreTestMatrix)->Unit(benchmark::kMillisecond)->UseRealTime();

// Encoders at the paper's sizes (FC + Transformer layer + pooling), 128 items a call.
void BM_HremEncodeImages(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  ImageBatch batch;
  for (int64_t i = 0; i < bench::kImageBlock; ++i) batch.ids.push_back(i);
  batch.features = torch::randn({bench::kImageBlock, kRegions, kFeatures});
  batch.region_mask = torch::ones({bench::kImageBlock, kRegions}, torch::kBool);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->encode_images(batch));
  state.counters["items/s"] =
      benchmark::Counter(double(state.iterations()) * bench::kImageBlock, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_HremEncodeImages)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_HremEncodeCaptions(benchmark::State& state) {
  torch::manual_seed(0);
  auto model = make_model();
  CaptionBatch batch;
  for (int64_t i = 0; i < bench::kImageBlock; ++i) batch.ids.push_back(i);
  batch.tokens = torch::randint(2, 100, {bench::kImageBlock, kWords}, torch::kInt64);
  batch.lengths = torch::full({bench::kImageBlock}, kWords, torch::kInt64);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->encode_captions(batch));
  state.counters["items/s"] =
      benchmark::Counter(double(state.iterations()) * bench::kImageBlock, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_HremEncodeCaptions)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return sm::bench::run_benchmarks(argc, argv); }
