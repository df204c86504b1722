#include "scenematch/core/runtime.h"

#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "scenematch/core/error.h"

namespace sm {

void ensure_blas_kernels(int argc, char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("SCENEMATCH_NO_REEXEC")) return;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f")) return;
  setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  execv("/proc/self/exe", args.data());
  // execv only returns on failure: carry on with the default kernels.
}

int set_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return threads;
}

c10::Device parse_device(const std::string& name) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const std::exception&) {
    fail("--device '", name, "': expected cpu, cuda or cuda:N");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    fail("--device ", name, ": this LibTorch build has no CUDA device available; use --device cpu");
  return device;
}

}  // namespace sm
