// Shared by the Google Benchmark programs: the --threads flag and start-up,
// rate counters, and the scoring loops (one evaluation block, the whole test
// matrix).
#pragma once
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "scenematch/core/runtime.h"
#include "scenematch/eval/similarity.h"
#include "scenematch/eval/throughput.h"

namespace sm::bench {

// Chooses the BLAS kernels, takes --threads=N (default 2) out of the flags,
// then runs the registered benchmarks.
inline int run_benchmarks(int argc, char** argv) {
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

// `items` done so far as a rate under `unit`, and GFLOP/s at `flop_per_item`.
inline void report(benchmark::State& state, double items, double flop_per_item, const char* unit = "pairs/s") {
  state.counters[unit] = benchmark::Counter(items, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(items * flop_per_item / 1e9, benchmark::Counter::kIsRate);
}

// The block evaluation scores at a time, and the Flickr30K / COCO-1K test matrix.
inline constexpr int64_t kImageBlock = SimilarityOptions{}.image_block;
inline constexpr int64_t kCaptionBlock = SimilarityOptions{}.caption_block;
inline constexpr int64_t kTestImages = 1000, kTestCaptions = 5000;

// The full matrix, block by block, exactly as evaluation scores it.
inline torch::Tensor score_matrix(Matcher& m, const Encoding& images, const Encoding& captions) {
  SimilarityOptions o;
  o.progress = false;
  return similarity_matrix(m, images, captions, o);
}

// score() of one image block against one caption block per iteration.
inline void score_block(benchmark::State& state, Matcher& m, const Encoding& images, const Encoding& captions,
                        double flop_per_pair) {
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(m.score(images, captions));
  report(state, double(state.iterations()) * images.size() * captions.size(), flop_per_pair);
}

// The whole matrix per iteration, block by block as evaluation scores it.
inline void score_whole_matrix(benchmark::State& state, Matcher& m, const Encoding& images, const Encoding& captions,
                               double flop_per_pair) {
  for (auto _ : state) benchmark::DoNotOptimize(score_matrix(m, images, captions));
  report(state, double(state.iterations()) * images.size() * captions.size(), flop_per_pair);
}

}  // namespace sm::bench
