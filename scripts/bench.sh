#!/usr/bin/env bash
# Builds the Google Benchmark programs (bench/bench_*.cc), which the test
# command leaves out, then runs one with its arguments if given:
#   bash scripts/bench.sh                       # build them all into build/
#   bash scripts/bench.sh bench_gsmn --benchmark_filter=ScoreBlock
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas-env.sh
bash scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DSCENEMATCH_BENCH=ON >/dev/null
if [ $# -eq 0 ]; then
  bash scripts/build.sh
else
  target=$1
  shift
  bash scripts/build.sh --target "$target"
  "$BUILD_DIR/$target" "$@"
fi
