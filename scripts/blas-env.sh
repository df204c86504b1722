# Sourced by the project's scripts. OpenBLAS reads OPENBLAS_CORETYPE once, when
# it loads; unset, scenematch picks the kernels itself (SkylakeX on CPUs with
# AVX-512, about 2x the GEMM throughput of the Haswell kernels OpenBLAS
# autodetects there; docs/performance.md). Some machine images pin the variable
# to an older kernel set, so the scripts clear it unless you ask to keep yours.
if [ -z "${SCENEMATCH_KEEP_OPENBLAS_CORETYPE:-}" ]; then
  unset OPENBLAS_CORETYPE
fi
# Then decide here what scenematch would decide at start-up, so its processes
# (every test among them) need not re-execute themselves to set it.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
