#include <gtest/gtest.h>
#include <torch/torch.h>

#include "scenematch/data/tokenizer.h"
#include "scenematch/data/vocab.h"
#include "scenematch/models/encoding.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/losses.h"

using namespace sm;

TEST(Tokenizer, SplitsPunctuationAndClitics) {
  EXPECT_EQ(tokenize("A man's dog, running."),
            (std::vector<std::string>{"a", "man", "'s", "dog", ",", "running", "."}));
  EXPECT_EQ(tokenize("Two T-shirts don't fit"), (std::vector<std::string>{"two", "t-shirts", "do", "n't", "fit"}));
  EXPECT_EQ(tokenize("  1.5 meters  "), (std::vector<std::string>{"1.5", "meters"}));
  EXPECT_TRUE(tokenize("").empty());
}

TEST(Vocab, MinCountAndUnknown) {
  Vocab v = Vocab::build({{"a", "dog"}, {"a", "cat"}}, 2);
  EXPECT_EQ(v.size(), 3);
  EXPECT_EQ(v.id("a"), 2);
  EXPECT_EQ(v.id("dog"), v.unk_id());
  Vocab back = Vocab::from_json(v.to_json());
  EXPECT_EQ(back.id("a"), 2);
  EXPECT_THROW(Vocab::from_json(Json{{"words", {"x"}}}), Error);
}

TEST(TripletLoss, PicksHardestNegative) {
  // Positives on the diagonal; row 0's hardest caption negative is column 2 (0.7).
  auto s = torch::tensor({{0.9, 0.1, 0.7}, {0.2, 0.8, 0.3}, {0.6, 0.4, 0.5}});
  double m = 0.2;
  // Rows (image i, hardest caption): 0: max(0.1,0.7)->0.7-0.9+0.2=0; 1: 0.3-0.8+0.2<0; 2: 0.6-0.5+0.2=0.3
  // Cols (caption j, hardest image): 0: 0.6-0.9+0.2<0; 1: 0.4-0.8+0.2<0; 2: 0.7-0.5+0.2=0.4
  EXPECT_NEAR(triplet_loss(s, m, true).item<double>(), 0.7, 1e-6);
  // Sum variant: row terms 0+0+(0.3 + 0.1) ; col terms 0+0+(0.4 + 0.0)... computed in full:
  double sum = 0;
  auto a = s.accessor<float, 2>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (i != j) sum += std::max(0.0, m + a[i][j] - a[i][i]) + std::max(0.0, m + a[i][j] - a[j][j]);
  EXPECT_NEAR(triplet_loss(s, m, false).item<double>(), sum, 1e-6);
}

TEST(TripletLoss, GradientsFlowToHardestPairs) {
  auto s = torch::tensor({{0.9, 0.1, 0.7}, {0.2, 0.8, 0.3}, {0.6, 0.4, 0.5}}).requires_grad_();
  triplet_loss(s, 0.2, true).backward();
  auto g = s.grad();
  EXPECT_GT(g[2][0].item<double>(), 0);  // hardest caption negative of image 2
  EXPECT_GT(g[0][2].item<double>(), 0);  // hardest image negative of caption 2
  EXPECT_LT(g[2][2].item<double>(), 0);  // its positive is pushed up
  EXPECT_EQ(g[0][1].item<double>(), 0);  // not a hardest negative
}

TEST(WordEncoder, PaddingDoesNotChangeOutputs) {
  torch::manual_seed(0);
  WordEncoder enc(20, 8, 6);
  auto tokens = torch::tensor({{3, 4, 5, 0, 0}, {6, 7, 0, 0, 0}}, torch::kInt64);
  auto lengths = torch::tensor({3, 2}, torch::kInt64);
  auto a = enc->forward(tokens, lengths);
  auto tokens2 = tokens.clone();
  tokens2[0][3] = 9;
  tokens2[1][4] = 11;
  auto b = enc->forward(tokens2, lengths);
  EXPECT_TRUE(torch::allclose(a.words, b.words));
  EXPECT_TRUE(torch::allclose(a.final, b.final));
  EXPECT_EQ(a.words.sizes(), (std::vector<int64_t>{2, 5, 6}));
  EXPECT_EQ(a.words[1][3].abs().sum().item<double>(), 0.0);
}

TEST(Encoding, CatPadsLaterDims) {
  Encoding a, b;
  a["w"] = torch::ones({2, 3, 4});
  a["m"] = torch::ones({2, 3}, torch::kBool);
  b["w"] = torch::ones({1, 5, 4});
  b["m"] = torch::ones({1, 5}, torch::kBool);
  auto c = Encoding::cat({a, b});
  EXPECT_EQ(c.at("w").sizes(), (std::vector<int64_t>{3, 5, 4}));
  EXPECT_EQ(c.at("m").sum().item<int64_t>(), 2 * 3 + 5);
  EXPECT_EQ(c.slice(2, 3).size(), 1);
  EXPECT_THROW(c.at("nope"), Error);
  // Values land in place, the padding is zero / false, and the caller's
  // encodings are untouched.
  EXPECT_TRUE(torch::equal(c.at("w").slice(0, 0, 2).slice(1, 0, 3), a.at("w")));
  EXPECT_EQ(c.at("w").slice(0, 0, 2).slice(1, 3, 5).abs().sum().item<float>(), 0.f);
  EXPECT_FALSE(c.at("m").slice(0, 0, 2).slice(1, 3, 5).any().item<bool>());
  EXPECT_TRUE(torch::equal(c.at("w")[2], b.at("w")[0]));
  EXPECT_TRUE(a.at("w").defined() && b.at("m").defined());
  Encoding missing;
  missing["w"] = torch::ones({1, 3, 4});
  EXPECT_THROW(Encoding::cat({a, missing}), Error);
}

TEST(TripletLoss, SameImageCaptionsAreNotNegatives) {
  // Rows 0 and 1 are two captions of image 7: identical image rows, so without
  // the mask each is the other's hardest negative and the loss is 2 * margin.
  auto s = torch::tensor({{0.9, 0.9, 0.1}, {0.9, 0.9, 0.1}, {0.1, 0.1, 0.9}});
  std::vector<int64_t> ids = {7, 7, 3};
  auto same = same_image_pairs(ids, torch::kCPU);
  EXPECT_TRUE(same[0][1].item<bool>());
  EXPECT_FALSE(same[0][0].item<bool>());
  EXPECT_FALSE(same[0][2].item<bool>());
  EXPECT_NEAR(triplet_loss(s, 0.2, true).item<double>(), 0.8, 1e-6);
  EXPECT_NEAR(triplet_loss(mask_same_image(s, ids), 0.2, true).item<double>(), 0.0, 1e-6);
}
