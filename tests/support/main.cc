#include <gtest/gtest.h>

#include "scenematch/core/runtime.h"

int main(int argc, char** argv) {
  sm::ensure_blas_kernels(argc, argv);
  sm::set_threads(0);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
