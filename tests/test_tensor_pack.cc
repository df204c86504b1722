#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>

#include "scenematch/core/error.h"
#include "scenematch/core/tensor_pack.h"

using namespace sm;

namespace {

// Expects unpack_tensors to refuse `bytes` with a message holding `what` and `word`.
void expect_refused(const std::string& bytes, const std::string& word) {
  try {
    unpack_tensors(bytes, "pack.bin");
    ADD_FAILURE() << "no error; expected one with '" << word << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("pack.bin"), std::string::npos) << msg;
    EXPECT_NE(msg.find(word), std::string::npos) << msg;
  }
}

// A pack with `index` (JSON text) and `blob`.
std::string raw_pack(const std::string& index, const std::string& blob) {
  const uint64_t len = index.size();
  return std::string(reinterpret_cast<const char*>(&len), sizeof len) + index + blob;
}

}  // namespace

TEST(TensorPack, EveryDtypeRoundTripsExactlyInOrder) {
  torch::manual_seed(3);
  NamedTensors in = {{"w", torch::randn({3, 4})},
                     {"d", torch::randn({2}, torch::kDouble)},
                     {"h", torch::randn({5}).to(torch::kHalf)},
                     {"steps", torch::tensor(int64_t{7})},
                     {"i", torch::arange(6, torch::kInt).view({2, 3})},
                     {"u", torch::arange(4, torch::kByte)},
                     {"mask", torch::tensor({true, false, true})},
                     {"empty", torch::zeros({0, 5})},
                     {"strided", torch::arange(12.).view({3, 4}).t()}};
  const NamedTensors out = unpack_tensors(pack_tensors(in), "pack.bin");
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].first, in[i].first);
    EXPECT_EQ(out[i].second.scalar_type(), in[i].second.scalar_type()) << in[i].first;
    EXPECT_TRUE(torch::equal(out[i].second, in[i].second)) << in[i].first;
  }
}

TEST(TensorPack, DamagedPacksAreRefusedByTensorName) {
  const std::string good = pack_tensors({{"w", torch::ones({2, 2})}});
  expect_refused(good.substr(0, 4), "too short");
  expect_refused(good.substr(0, good.size() - 1), "outside the data");
  expect_refused(raw_pack("[{\"name\":\"w\"", ""), "not a JSON list");
  expect_refused(raw_pack("{}", ""), "not a JSON list");
  std::string huge = good;
  const uint64_t len = uint64_t{1} << 62;
  std::memcpy(huge.data(), &len, sizeof len);
  expect_refused(huge, "runs past the end");
  const std::string blob(16, '\0');
  auto entry = [](const std::string& fields) { return "[{\"name\":\"w\"," + fields + "}]"; };
  expect_refused(raw_pack(entry("\"dtype\":\"float32\",\"shape\":[2,2],\"offset\":0"), blob), "has no 'bytes'");
  expect_refused(raw_pack(entry("\"dtype\":\"str\",\"shape\":[2,2],\"offset\":0,\"bytes\":16"), blob), "dtype \"str\"");
  expect_refused(raw_pack(entry("\"dtype\":\"float32\",\"shape\":[2,3],\"offset\":0,\"bytes\":16"), blob), "make 24");
  expect_refused(raw_pack(entry("\"dtype\":\"float32\",\"shape\":[2,-2],\"offset\":0,\"bytes\":16"), blob), "shape");
  expect_refused(raw_pack(entry("\"dtype\":\"float32\",\"shape\":[2,2],\"offset\":8,\"bytes\":16"), blob),
                 "outside the data");
  // Sizes whose product wraps round 2^64 must not pass for a small tensor.
  expect_refused(
      raw_pack(entry("\"dtype\":\"uint8\",\"shape\":[1099511627776,1099511627776,16777216],\"offset\":0,\"bytes\":0"),
               blob),
      "larger than the data");
  expect_refused(raw_pack("[{\"name\":\"w\",\"dtype\":\"bool\",\"shape\":[1],\"offset\":0,\"bytes\":1}]", "\x02"),
                 "bool");
  const std::string twice = "[{\"name\":\"w\",\"dtype\":\"uint8\",\"shape\":[1],\"offset\":0,\"bytes\":1}," +
                            std::string("{\"name\":\"w\",\"dtype\":\"uint8\",\"shape\":[1],\"offset\":0,\"bytes\":1}]");
  expect_refused(raw_pack(twice, "x"), "stored twice");
}

TEST(TensorPack, AssignChecksNamesAndShapesAgainstTheModel) {
  torch::nn::Linear source(3, 2), target(3, 2);
  const NamedTensors weights = model_tensors(*source);
  ASSERT_EQ(weights.size(), 2u);
  assign_tensors(*target, weights, "m.ckpt");
  EXPECT_TRUE(torch::equal(target->weight, source->weight));
  EXPECT_TRUE(torch::equal(target->bias, source->bias));

  auto refused = [&](const NamedTensors& given, const std::string& word) {
    try {
      assign_tensors(*target, given, "m.ckpt");
      ADD_FAILURE() << "no error; expected '" << word << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  refused({weights[0]}, "no tensor 'bias'");
  refused({weights[0], weights[1], {"extra", torch::ones(1)}}, "'extra' belongs to no part");
  refused({weights[0], {"bias", torch::ones(3)}}, "'bias' is [3]");
  refused({weights[0], {"bias", torch::ones(2, torch::kDouble)}}, "Double");
}
