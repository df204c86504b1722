// Process set-up shared by the CLI, tests and benchmarks: BLAS kernel choice,
// thread count and the compute device.
#pragma once
#include <string>

namespace c10 {
struct Device;
}

namespace sm {

// OpenBLAS autodetects Haswell kernels on this AVX-512 CPU and runs GEMM at half
// speed; the choice is read only when the library loads, so when the variable is
// unset and the CPU has AVX-512 we set OPENBLAS_CORETYPE=SkylakeX and re-exec.
// Returns normally when nothing needed doing.
void ensure_blas_kernels(int argc, char** argv);

// Sets LibTorch's intra-op threads (it starts at 1 here); 0 means all cores.
int set_threads(int threads);

// "cpu", "cuda" or "cuda:N"; a clear error when CUDA is asked for and absent.
c10::Device parse_device(const std::string& name);

}  // namespace sm
