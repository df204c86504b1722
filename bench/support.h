// Shared by the Google Benchmark programs: the --threads flag and start-up,
// rate counters, a small vocabulary, and the test-matrix loop.
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

inline Vocab bench_vocab() { return synthetic_vocab(100); }

// The full matrix, block by block, exactly as evaluation scores it.
inline torch::Tensor score_matrix(Matcher& m, const Encoding& images, const Encoding& captions) {
  SimilarityOptions o;
  o.progress = false;
  return similarity_matrix(m, images, captions, o);
}

}  // namespace sm::bench
