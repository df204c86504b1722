#include <gtest/gtest.h>
#include <torch/torch.h>

#include "scenematch/models/losses.h"
#include "scenematch/models/matcher.h"
#include "support/random_batches.h"

using namespace sm;

namespace {

constexpr int64_t kFeatures = 10, kEmbed = 16, kRegions = 5, kWords = 7;

Vocab small_vocab() { return sm::testing::numbered_vocab(22); }

Config small_config() {
  Config cfg = matcher_preset("vse_infty", "cpu");
  cfg["embed_size"] = kEmbed;
  cfg["word_dim"] = 8;
  cfg["feature_dim"] = kFeatures;
  return cfg;
}

ImageBatch random_images(int64_t n) { return sm::testing::full_images(n, kRegions, kFeatures); }
CaptionBatch random_captions(int64_t n, int64_t vocab_size) {
  return sm::testing::full_captions(n, kWords, vocab_size);
}

}  // namespace

TEST(VseInfty, RegisteredWithTheAuthorsSettings) {
  Config paper = matcher_preset("vse_infty", "paper");
  EXPECT_EQ(paper["embed_size"], 1024);
  EXPECT_EQ(paper["batch_size"], 128);
  EXPECT_DOUBLE_EQ(paper["lr"].get<double>(), 5e-4);
  EXPECT_EQ(paper["epochs"], 25);
  EXPECT_EQ(paper["lr_update"], 15);
  EXPECT_EQ(paper["sum_violation_epochs"], 1);
  EXPECT_EQ(matcher_preset("vse_infty", "cpu")["sum_violation_epochs"], 1);
}

TEST(VseInfty, UnitEmbeddingsDotProductScoresAndGradients) {
  torch::manual_seed(1);
  Vocab vocab = small_vocab();
  MatcherPtr m = make_matcher("vse_infty", small_config(), vocab);
  EXPECT_TRUE(m->embedding_scores());
  {
    torch::NoGradGuard no_grad;
    m->eval();
    Encoding imgs = m->encode_images(random_images(3));
    Encoding caps = m->encode_captions(random_captions(4, vocab.size()));
    ASSERT_EQ(imgs.at("emb").sizes(), torch::IntArrayRef({3, kEmbed}));
    EXPECT_TRUE(torch::allclose(caps.at("emb").norm(2, 1), torch::ones({4}), 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(m->score(imgs, caps), imgs.at("emb").matmul(caps.at("emb").t()), 1e-6, 1e-6));
  }
  m->train();
  LossOutput out = m->loss(random_images(6), random_captions(6, vocab.size()));
  out.total.backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  }
}

// GPO sorts only an item's own positions: padding words and absent regions
// change nothing.
TEST(VseInfty, PaddingWordsAndAbsentRegionsAreIgnored) {
  torch::manual_seed(3);
  Vocab vocab = small_vocab();
  MatcherPtr m = make_matcher("vse_infty", small_config(), vocab);
  m->eval();
  torch::NoGradGuard no_grad;
  CaptionBatch caps = random_captions(2, vocab.size());
  caps.lengths[1] = 4;
  auto before = m->encode_captions(caps).at("emb");
  caps.tokens[1].slice(0, 4).fill_(5);
  EXPECT_TRUE(torch::allclose(m->encode_captions(caps).at("emb"), before, 1e-6, 1e-6));

  ImageBatch imgs = random_images(2);
  imgs.region_mask[1].slice(0, 3).fill_(false);
  auto img_before = m->encode_images(imgs).at("emb");
  imgs.features[1].slice(0, 3).normal_();
  EXPECT_TRUE(torch::allclose(m->encode_images(imgs).at("emb"), img_before, 1e-6, 1e-6));
}

TEST(VseInfty, SumsOverNegativesDuringTheWarmUpEpoch) {
  torch::manual_seed(6);
  Vocab vocab = small_vocab();
  MatcherPtr m = make_matcher("vse_infty", small_config(), vocab);
  m->eval();
  torch::NoGradGuard no_grad;
  ImageBatch imgs = random_images(5);
  CaptionBatch caps = random_captions(5, vocab.size());
  torch::Tensor scores = m->score(m->encode_images(imgs), m->encode_captions(caps));
  auto diagonal = torch::eye(5, torch::kBool);
  const double sum = triplet_loss(scores, diagonal, 0.2, false).item<double>(),
               hardest = triplet_loss(scores, diagonal, 0.2, true).item<double>();
  ASSERT_GT(sum, hardest + 1e-3);
  m->begin_step(0, 0);
  EXPECT_NEAR(m->loss(imgs, caps).total.item<double>(), sum, 1e-5);
  m->begin_step(100, 1);
  EXPECT_NEAR(m->loss(imgs, caps).total.item<double>(), hardest, 1e-5);
}

// Unlike VSE++'s mean of linear projections, the per-region MLP and GPO's
// sorted pooling bind a role to the region that holds it, so exchanging two
// roles moves the image embedding (VsePP.ImageEmbeddingCannotTell...).
TEST(VseInfty, ImageEmbeddingTellsWhichRegionHoldsWhichRole) {
  torch::manual_seed(3);
  MatcherPtr m = make_matcher("vse_infty", small_config(), small_vocab());
  EXPECT_GT(sm::testing::role_swap_shift(*m, kRegions, kFeatures), 1e-3);
}
