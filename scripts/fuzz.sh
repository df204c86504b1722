#!/usr/bin/env bash
# libFuzzer targets for the readers (fuzz/, docs/reliability.md):
#   bash scripts/fuzz.sh --list             # names every target
#   bash scripts/fuzz.sh TARGET SECONDS     # builds, makes the seed corpus, fuzzes TARGET for SECONDS
#   bash scripts/fuzz.sh all SECONDS        # every target in turn, SECONDS each
# Seeds come from a tiny synthetic world made here (nothing binary is kept in
# the repository); the corpus grows in $BUILD_DIR/fuzz-corpus/TARGET and any
# crashing input is saved in $BUILD_DIR/fuzz-artifacts/. Exits non-zero when a
# target finds a crash, a leak or a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=$(ls fuzz/fuzz_*.cc | xargs -n1 basename | sed 's/\.cc$//')
if [ "${1:-}" = "--list" ]; then
  echo "$TARGETS"
  exit 0
fi
if [ $# -ne 2 ]; then
  echo "usage: scripts/fuzz.sh --list | TARGET SECONDS | all SECONDS" >&2
  exit 2
fi
target=$1 seconds=$2
[ "$target" = all ] || echo "$TARGETS" | grep -qx "$target" || {
  echo "fuzz: no target '$target'; scripts/fuzz.sh --list names them" >&2
  exit 2
}

source scripts/blas-env.sh
bash scripts/install-deps.sh
# clang and libFuzzer only here, so the ordinary build and tests never pay for them.
if ! dpkg-query -W -f='${Status}' clang-14 libclang-rt-14-dev 2>/dev/null | grep -c "install ok installed" | grep -q 2; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null
fi

BUILD_DIR=${BUILD_DIR:-build}
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DSCENEMATCH_FUZZ=ON >/dev/null
bash scripts/build.sh --target scenematch_cli fuzz
BIN=$BUILD_DIR/fuzz
CLI=$BUILD_DIR/scenematch
SEEDS=$BUILD_DIR/fuzz-seeds

# Seeds: the files of a tiny synthetic world, the checkpoint and vocabulary of
# a small VSE++ after one epoch, an index over it, parse caches, request bodies.
# The stamp names the seeds' formats: bump it when a reader's format changes.
SEEDS_STAMP=$SEEDS/.done-checkpoint-format-2-parse-9
if [ ! -f "$SEEDS_STAMP" ]; then
  rm -rf "$SEEDS"
  w=$SEEDS/work
  mkdir -p "$w"
  "$CLI" synth --preset tiny --images 40,10,10 --out "$w/world" --quiet >/dev/null
  small=(--preset cpu --set embed_size=32 --set word_dim=16 --epochs 1 --threads 1 --quiet)
  "$CLI" train --model vsepp "${small[@]}" --data "$w/world" --out "$w/run" >/dev/null
  "$CLI" index --checkpoint "$w/run/last.ckpt" --data "$w/world" --out "$w/index" --quiet >/dev/null
  # SGM parses its captions, which leaves parse caches beside them.
  "$CLI" train --model sgm "${small[@]}" --data "$w/world" --out "$w/sgm" >/dev/null 2>&1
  mkdir -p "$SEEDS"/{fuzz_npy,fuzz_captions,fuzz_vsg,fuzz_probes,fuzz_vocab,fuzz_checkpoint,fuzz_parse_cache,fuzz_manifest,fuzz_search_request}
  for f in "$w"/world/*.npy "$w"/index/*.npy; do
    [ "$(stat -c %s "$f")" -gt 65536 ] || cp "$f" "$SEEDS/fuzz_npy/$(basename "$(dirname "$f")")_$(basename "$f")"
  done
  cp "$w"/world/*_caps.txt "$SEEDS/fuzz_captions/"
  cp "$w"/world/*_vsg.jsonl "$SEEDS/fuzz_vsg/" 2>/dev/null || true
  cp "$w"/world/*_probes.jsonl "$SEEDS/fuzz_probes/" 2>/dev/null || true
  cp "$w/run/vocab.json" "$SEEDS/fuzz_vocab/"
  cp "$w/run/last.ckpt" "$SEEDS/fuzz_checkpoint/"
  cp "$w/index/manifest.json" "$SEEDS/fuzz_manifest/"
  for cache in "$w"/world/*_caps.txt.parse-*.bin; do
    caps=${cache%.parse-*}
    { cat "$caps"; printf '\0'; cat "$cache"; } >"$SEEDS/fuzz_parse_cache/$(basename "$caps")"
  done
  printf '%s' '{"text": "a dog chasing a cat", "k": 5}' >"$SEEDS/fuzz_search_request/text"
  printf '%s' '{"image": 3, "k": 10, "candidates": 50, "exhaustive": true}' >"$SEEDS/fuzz_search_request/image"
  rm -rf "$w"
  touch "$SEEDS_STAMP"
fi

# Leaks are checked, except LibTorch's own one-off start-up allocations.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Inputs that once crashed a target are rebuilt here on every run (they are
# binary, and nothing binary is kept in the repository), so a target meets
# them first whatever its random search does.
regressions=$BUILD_DIR/fuzz-regressions
mkdir -p "$regressions/fuzz_npy"
npy_header() {  # version-1 .npy preamble for a header dict, padded to 64 bytes
  local dict="$1" pad
  pad=$((64 - (10 + ${#dict} + 1) % 64))
  printf '\x93NUMPY\x01\x00'
  printf "\\x$(printf %02x $(((${#dict} + pad + 1) % 256)))\\x$(printf %02x $(((${#dict} + pad + 1) / 256)))"
  printf '%s%*s\n' "$dict" "$pad" ''
}
# A 24-byte file whose header length says 2 GB was given a 2 GB buffer.
printf "\x93NUMPY\x03\x00\xff\xff\xff\x7f{'descr'" >"$regressions/fuzz_npy/claims_2gb_header.npy"
# gather() of rows of zero width handed memcpy an empty tensor's null pointer.
npy_header "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }" >"$regressions/fuzz_npy/zero_width_rows.npy"
# The element count of a long shape overflowed even a 128-bit product.
npy_header "{'descr': '<f8', 'fortran_order': False, 'shape': (44444444444444439, 1, 4434444444444440, 1, 44, 20, 300), }" \
  >"$regressions/fuzz_npy/overflowing_shape.npy"
# Rows of nothing whose other dimensions overflow: LibTorch threw its own error.
npy_header "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 1099511627776, 1099511627776, 0), }" \
  >"$regressions/fuzz_npy/rows_of_nothing.npy"

status=0
for t in $([ "$target" = all ] && echo "$TARGETS" || echo "$target"); do
  corpus=$BUILD_DIR/fuzz-corpus/$t
  mkdir -p "$corpus" "$BUILD_DIR/fuzz-artifacts"
  echo "fuzz: $t for ${seconds}s" >&2
  log=$BUILD_DIR/fuzz-logs/$t.log
  mkdir -p "$BUILD_DIR/fuzz-logs"
  # The checkpoint seed is a whole model: let its inputs be as long as it.
  max_len=$([ "$t" = fuzz_checkpoint ] || echo -max_len=65536)
  rc=0
  "$BIN/$t" "$corpus" "$SEEDS/$t" $([ -d "$regressions/$t" ] && echo "$regressions/$t") -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 $max_len \
    -print_final_stats=1 -artifact_prefix="$BUILD_DIR/fuzz-artifacts/$t-" >"$log" 2>&1 || rc=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)|Test unit written|ERROR: libFuzzer" "$log" || true
  echo "fuzz: $t exit $rc (log: $log)" >&2
  [ $rc -eq 0 ] || status=1
done
exit $status
