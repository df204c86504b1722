#!/usr/bin/env bash
# Installs every system package scenematch needs (Debian 12). Idempotent and
# quiet when everything is already present; needs root (or sudo) otherwise.
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache pkg-config
  clang-format            # the style check CI runs (scripts/format.sh --check)
  libtorch-dev            # tensors, autograd, GRUs, optimizers
  libgloo-dev             # headers of the Gloo library LibTorch's c10d collectives run on (distributed training)
  python3-torch           # `scenematch import` only: reads the authors' torch.save checkpoints once
  libopenblas0-openmp     # 13x faster than the reference BLAS LibTorch links by default
  libblas-dev             # cblas.h and libblas.so (OpenBLAS through the alternative) for GSMN's CPU engine
  liblink-grammar-dev link-grammar-dictionaries-en   # caption parsing
  libfaiss-dev            # vector indexes
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  gnuplot-nox             # training-curve PNGs
  chromium                # headless browser test of the search page
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
