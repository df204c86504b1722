#!/usr/bin/env bash
# Configures and builds scenematch in build/ (or $BUILD_DIR). Extra arguments
# are passed to `cmake --build` (e.g. --target test_metrics). Builds sharing a
# folder are serialised with a lock so parallel callers never collide.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
mkdir -p "$BUILD_DIR"
exec 9>"$BUILD_DIR/.lock"
flock 9
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} >/dev/null
fi
cmake --build "$BUILD_DIR" -j"${JOBS:-$(nproc)}" "$@"
