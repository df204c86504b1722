#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
#   SANITIZE=1 bash scripts/test.sh   # the same under ASan + UBSan, built in build-asan/
#   (extra arguments go to ctest, e.g. -L fast)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas-env.sh
bash scripts/install-deps.sh
if [ "${SANITIZE:-0}" = 1 ]; then
  export BUILD_DIR=${BUILD_DIR:-build-asan}
  mkdir -p "$BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -DSCENEMATCH_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  # LibTorch is not instrumented: its own start-up allocations are not ours to
  # report, and its containers trip ASan's container-overflow annotations.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:detect_container_overflow=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 1500 "$@"
