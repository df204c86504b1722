// Ranking cost of the evaluation protocol on COCO 5K's shape: 5,000 images x
// 25,000 captions of random scores. Run: build/bench_rank
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "scenematch/core/runtime.h"
#include "scenematch/eval/metrics.h"

namespace {

void BM_RecallMetrics(benchmark::State& state) {
  const int64_t images = state.range(0), per_image = 5;
  torch::manual_seed(0);
  torch::Tensor sims = torch::randn({images, images * per_image});
  for (auto _ : state) benchmark::DoNotOptimize(sm::recall_metrics(sims, per_image).rsum);
  state.SetItemsProcessed(state.iterations() * sims.numel());
}
BENCHMARK(BM_RecallMetrics)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);

void BM_FiveFold(benchmark::State& state) {
  torch::manual_seed(0);
  torch::Tensor sims = torch::randn({5000, 25000});
  for (auto _ : state) benchmark::DoNotOptimize(sm::evaluate_protocol(sims, 5, "5fold").rsum);
}
BENCHMARK(BM_FiveFold)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  sm::ensure_blas_kernels(argc, argv);
  sm::set_threads(0);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
