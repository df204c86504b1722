#include <gtest/gtest.h>
#include <torch/torch.h>

#include "scenematch/eval/throughput.h"

using namespace sm;

TEST(Throughput, CountedFlopsOfAMatrixProduct) {
  auto a = torch::randn({64, 32}), b = torch::randn({32, 16});
  EXPECT_DOUBLE_EQ(counted_flops([&] { torch::mm(a, b); }), 2.0 * 64 * 32 * 16);
}

TEST(Throughput, CountedFlopsIncludeTheBackwardPass) {
  // Forward a @ b, backward g @ b^T and a^T @ g: three products of the same size.
  auto a = torch::randn({64, 32}, torch::requires_grad()), b = torch::randn({32, 16}, torch::requires_grad());
  const double flops = counted_flops([&] { torch::mm(a, b).sum().backward(); });
  EXPECT_DOUBLE_EQ(flops, 3 * 2.0 * 64 * 32 * 16);
  ASSERT_TRUE(a.grad().defined());
}

TEST(Throughput, CountingStopsWhenTheWorkThrows) {
  EXPECT_THROW(counted_flops([] { throw std::runtime_error("boom"); }), std::runtime_error);
  auto a = torch::randn({8, 8});
  EXPECT_DOUBLE_EQ(counted_flops([&] { torch::mm(a, a); }), 2.0 * 8 * 8 * 8);
}
