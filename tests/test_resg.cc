#include <gtest/gtest.h>
#include <torch/torch.h>

#include "scenematch/data/caption_graph.h"
#include "scenematch/data/vocab.h"
#include "scenematch/models/losses.h"
#include "scenematch/models/matcher.h"
#include "scenematch/models/resg.h"
#include "support/random_batches.h"
#include "support/short_training.h"

using namespace sm;

namespace {

constexpr int64_t kFeatures = 20, kRegions = 6, kMaxWords = 7;

Vocab small_vocab() { return sm::testing::numbered_vocab(32); }

Config small_config() {
  Config cfg = matcher_preset("resg", "cpu");
  cfg["embed_size"] = 32;
  cfg["word_dim"] = 16;
  cfg["gru_hidden"] = 24;  // != embed_size, so the lift to D is exercised
  cfg["feature_dim"] = kFeatures;
  cfg["vreg_layers"] = 2;
  cfg["treg_layers"] = 2;
  return cfg;
}

MatcherPtr small_model(const Config& cfg) {
  torch::manual_seed(7);
  return make_matcher("resg", cfg, small_vocab());
}

// Images with a varying number of present regions (absent ones hold noise).
ImageBatch random_images(int64_t n, int64_t seed) {
  sm::testing::ImageSpec s;
  s.regions = kRegions;
  s.features = kFeatures;
  s.present = sm::testing::fewer_each(kRegions, 3);
  return sm::testing::random_images(n, s, seed);
}

// Captions of lengths 1..kMaxWords with random tokens and POS ids; padding
// holds 0 as the batcher writes it.
CaptionBatch random_captions(int64_t n, int64_t vocab_size, int64_t seed) {
  sm::testing::CaptionSpec s;
  s.words = kMaxWords;
  s.vocab = vocab_size;
  s.length = [](int64_t i) { return i == 0 ? 1 : 2 + (i * 3) % (kMaxWords - 1); };
  s.pos = true;
  return sm::testing::random_captions(n, s, seed);
}

// Hand-made score matrices for the loss terms (rows images, columns captions).
torch::Tensor words_scores() {
  return torch::tensor({{0.9, 0.8, 0.85}, {0.4, 0.6, 0.8}, {0.2, 0.3, 0.7}}, torch::kDouble);
}
torch::Tensor regions_scores() {
  return torch::tensor({{0.8, 0.1, 0.6}, {0.3, 0.5, 0.2}, {0.9, 0.4, 0.5}}, torch::kDouble);
}
torch::Tensor eye3() { return torch::eye(3, torch::kBool); }

}  // namespace

TEST(ResgLoss, HardestNegativeByHand) {
  // Image anchors on S(V,T) rows, margin 0.2:
  //   row 0: pos .9, negs .8 -> .1, .85 -> .15          hardest .15
  //   row 1: pos .6, negs .4 -> 0,  .8 -> .4            hardest .4
  //   row 2: pos .7, negs .2, .3 -> 0                   hardest 0
  // Caption anchors on S(T,V) columns:
  //   col 0: pos .8, negs .3 -> 0, .9 -> .3             hardest .3
  //   col 1: pos .5, negs .1 -> 0, .4 -> .1             hardest .1
  //   col 2: pos .5, negs .6 -> .3, .2 -> 0             hardest .3
  auto hardest = resg::hardest_negative_loss(words_scores(), regions_scores(), eye3(), 0.2, true);
  EXPECT_NEAR(hardest.item<double>(), 0.15 + 0.4 + 0.3 + 0.1 + 0.3, 1e-12);
  // Summing all negatives adds row 0's second violation (.1).
  auto summed = resg::hardest_negative_loss(words_scores(), regions_scores(), eye3(), 0.2, false);
  EXPECT_NEAR(summed.item<double>(), 0.25 + 0.4 + 0.3 + 0.1 + 0.3, 1e-12);
  // With one matrix for both directions it is the shared VSE++ loss.
  EXPECT_NEAR(resg::hardest_negative_loss(words_scores(), words_scores(), eye3(), 0.2).item<double>(),
              triplet_loss(words_scores(), eye3(), 0.2, true).item<double>(), 1e-12);
}

TEST(ResgLoss, HardestNegativeSkipsOtherCaptionsOfTheSameImage) {
  // Images 0 and 1 are the same picture: (0,1) and (1,0) are positives now.
  auto positive = positive_pairs({5, 5, 9}, 3, torch::kCPU);
  // Row 0 keeps only .85 -> .15; row 1 keeps .8 -> .4; row 2 0.
  // Col 0 keeps row 2 (.9 -> .3); col 1 keeps row 2 (.4 -> .1); col 2 rows 0, 1 (.6 -> .3).
  auto loss = resg::hardest_negative_loss(words_scores(), regions_scores(), positive, 0.2, false);
  EXPECT_NEAR(loss.item<double>(), 0.15 + 0.4 + 0.3 + 0.1 + 0.3, 1e-12);
}

TEST(ResgLoss, CenterHingeByHand) {
  // gamma .3 on negatives of S(V,T): .8 -> .5, .85 -> .55, .4 -> .1, .8 -> .5, .2, .3 -> 0   = 1.65
  // gamma .3 on negatives of S(T,V): .1 -> 0, .6 -> .3, .3 -> 0, .2 -> 0, .9 -> .6, .4 -> .1 = 1.0
  // beta .7 on matched S(V,T): .9 -> 0, .6 -> .1, .7 -> 0                                     = 0.1
  auto loss = resg::center_hinge_loss(words_scores(), regions_scores(), eye3(), 0.7, 0.3);
  EXPECT_NEAR(loss.item<double>(), 1.65 + 1.0 + 0.1, 1e-12);
}

TEST(ResgLoss, PositiveNegativeMarginByHand) {
  // Images 0 and 1 are the same picture, so captions 0 and 1 both describe it.
  auto positive = positive_pairs({3, 3, 4}, 3, torch::kCPU);
  // delta .7, rows of S(V,T):    row 0: min pos .8, max neg .85 -> .75
  //                              row 1: min pos .4, max neg .8  -> 1.1
  //                              row 2: min pos .7, max neg .3  -> .3
  // columns of S(T,V):           col 0: min pos .3, max neg .9  -> 1.3
  //                              col 1: min pos .1, max neg .4  -> 1.0
  //                              col 2: min pos .5, max neg .6  -> .8
  auto loss = resg::positive_negative_margin_loss(words_scores(), regions_scores(), positive, 0.7);
  EXPECT_NEAR(loss.item<double>(), 0.75 + 1.1 + 0.3 + 1.3 + 1.0 + 0.8, 1e-12);
  // With one caption per image it is the hardest-negative loss at margin delta.
  EXPECT_NEAR(resg::positive_negative_margin_loss(words_scores(), regions_scores(), eye3(), 0.7).item<double>(),
              resg::hardest_negative_loss(words_scores(), regions_scores(), eye3(), 0.7).item<double>(), 1e-12);
}

TEST(ResgLoss, AnchorWithoutNegativesAddsNothing) {
  auto all_positive = torch::ones({3, 3}, torch::kBool);
  auto s = words_scores().requires_grad_(true);
  auto loss = resg::positive_negative_margin_loss(s, regions_scores(), all_positive, 0.7) +
              resg::hardest_negative_loss(s, regions_scores(), all_positive, 0.2);
  EXPECT_EQ(loss.item<double>(), 0.0);
  loss.backward();
  EXPECT_FALSE(torch::isnan(s.grad()).any().item<bool>());
}

TEST(ResgGraph, KnnKeepsTopCosineNeighboursOfPresentWords) {
  // Four words at 0, 10, 90 and 100 degrees, then one padding word.
  auto angle = [](double deg) {
    double r = deg * M_PI / 180;
    return std::vector<double>{std::cos(r), std::sin(r)};
  };
  std::vector<double> flat;
  for (double deg : {0.0, 10.0, 90.0, 100.0, 5.0}) {
    auto v = angle(deg);
    flat.insert(flat.end(), v.begin(), v.end());
  }
  auto nodes = torch::tensor(flat).view({1, 5, 2}).to(torch::kFloat);
  auto mask = torch::tensor({true, true, true, true, false}).view({1, 5});
  auto knn = resg::knn_mask(nodes, mask, 2)[0];
  auto expected = torch::tensor({0, 1, 1, 0, 0,  //  0 deg: 10 (cos .98), 90 (0) beat 100 (-.17)
                                 1, 0, 1, 0, 0,  // 10 deg: 0, 90 (.17) beat 100 (0)
                                 0, 1, 0, 1, 0,  // 90 deg: 100, 10 (.17) beat 0 (0)
                                 0, 1, 1, 0, 0,  // 100 deg: 90, 10 (0) beat 0 (-.17)
                                 0, 0, 0, 0, 0})
                      .view({5, 5})
                      .to(torch::kBool);
  EXPECT_TRUE(torch::equal(knn, expected)) << knn;
  // A two-word caption has one neighbour per word.
  auto two = resg::knn_mask(nodes.slice(1, 0, 2), mask.slice(1, 0, 2), 2)[0];
  EXPECT_TRUE(torch::equal(two, torch::tensor({false, true, true, false}).view({2, 2})));
}

TEST(Resg, ShapesAndNeeds) {
  auto model = small_model(small_config());
  EXPECT_TRUE(model->needs().parses);
  auto img = model->encode_images(random_images(5, 1));
  auto cap = model->encode_captions(random_captions(4, small_vocab().size(), 2));
  EXPECT_EQ(img.at("nodes").sizes(), (std::vector<int64_t>{5, kRegions, 32}));
  EXPECT_EQ(cap.at("nodes").sizes(), (std::vector<int64_t>{4, kMaxWords, 32}));
  EXPECT_EQ(model->score(img, cap).sizes(), (std::vector<int64_t>{5, 4}));
  // Present nodes are unit vectors.
  auto norms = img.at("nodes").norm(2, 2).masked_select(img.at("mask"));
  EXPECT_TRUE(torch::allclose(norms, torch::ones_like(norms), 1e-5, 1e-5));
  EXPECT_EQ(model->global_embedding(img, true).sizes(), (std::vector<int64_t>{5, 32}));
  auto no_pos = random_captions(2, small_vocab().size(), 3);
  no_pos.pos = torch::Tensor();
  EXPECT_THROW(model->encode_captions(no_pos), Error);
}

TEST(Resg, BatchedScoresEqualPerPairReference) {
  for (std::string pool : {"mean", "sum"}) {
    Config cfg = small_config();
    cfg["score_pool"] = pool;
    auto model = small_model(cfg);
    torch::NoGradGuard g;
    auto img = model->encode_images(random_images(5, 4));
    auto cap = model->encode_captions(random_captions(6, small_vocab().size(), 5));
    auto s = resg::directional_scores(img.at("nodes"), img.at("mask"), cap.at("nodes"), cap.at("mask"), pool == "mean");
    auto combined = model->score(img, cap);
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 6; ++j) {
        auto [by_words, by_regions] = resg::reference_score(img.at("nodes")[i], img.at("mask")[i], cap.at("nodes")[j],
                                                            cap.at("mask")[j], pool == "mean");
        EXPECT_NEAR(s.words[i][j].item<double>(), by_words, 1e-5) << pool << " " << i << "," << j;
        EXPECT_NEAR(s.regions[i][j].item<double>(), by_regions, 1e-5) << pool << " " << i << "," << j;
        EXPECT_NEAR(combined[i][j].item<double>(), (by_words + by_regions) / 2, 1e-5);
      }
  }
}

TEST(Resg, ChunkedScoringMatchesSmallBlocks) {
  // 1100 captions x 4 words x 64 images x 64 regions exceeds one internal
  // chunk, so the caption loop runs more than once.
  torch::manual_seed(11);
  auto regions =
      torch::nn::functional::normalize(torch::randn({64, 64, 8}), torch::nn::functional::NormalizeFuncOptions().dim(2));
  auto words = torch::nn::functional::normalize(torch::randn({1100, 4, 8}),
                                                torch::nn::functional::NormalizeFuncOptions().dim(2));
  auto rmask = torch::rand({64, 64}) > 0.2;
  auto wmask = torch::rand({1100, 4}) > 0.3;
  rmask.select(1, 0).fill_(true);
  wmask.select(1, 0).fill_(true);
  auto whole = resg::directional_scores(regions, rmask, words, wmask, true);
  for (int64_t c0 = 0; c0 < 1100; c0 += 275) {
    auto part =
        resg::directional_scores(regions, rmask, words.slice(0, c0, c0 + 275), wmask.slice(0, c0, c0 + 275), true);
    EXPECT_TRUE(torch::allclose(whole.words.slice(1, c0, c0 + 275), part.words, 1e-6, 1e-6));
    EXPECT_TRUE(torch::allclose(whole.regions.slice(1, c0, c0 + 275), part.regions, 1e-6, 1e-6));
  }
}

TEST(Resg, PaddingAndAbsentRegionsAreIrrelevant) {
  auto model = small_model(small_config());
  torch::NoGradGuard g;
  auto images = random_images(4, 6);
  auto captions = random_captions(5, small_vocab().size(), 7);
  auto before = model->score(model->encode_images(images), model->encode_captions(captions));

  auto word_pad = ~captions.word_mask();
  captions.tokens = captions.tokens.masked_fill(word_pad, 3);
  captions.pos = captions.pos.masked_fill(word_pad, 5);
  images.features = images.features.masked_fill(~images.region_mask.unsqueeze(2), 123.0);
  auto after = model->score(model->encode_images(images), model->encode_captions(captions));
  EXPECT_TRUE(torch::allclose(before, after, 1e-6, 1e-6)) << before << after;
  // ...while a present word's POS tag does matter.
  captions.pos[1][0] = captions.pos[1][0].item<int64_t>() % kNumPos + 1;
  auto changed = model->score(model->encode_images(images), model->encode_captions(captions));
  EXPECT_GT((changed.select(1, 1) - before.select(1, 1)).abs().max().item<double>(), 1e-6);
}

TEST(Resg, GradientsReachEveryParameter) {
  auto model = small_model(small_config());
  auto out = model->loss(random_images(6, 8), random_captions(6, small_vocab().size(), 9));
  for (const char* term : {"triplet", "center", "pnm"}) EXPECT_TRUE(out.terms.count(term)) << term;
  out.total.backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(Resg, LossTermsSwitchOnAndOff) {
  auto images = random_images(6, 8);
  auto captions = random_captions(6, small_vocab().size(), 9);
  Config cfg = small_config();
  cfg["first_stage_head"] = false;  // ReSG's own terms (the head's: test_first_stage_head.cc)
  auto all = small_model(cfg)->loss(images, captions);
  EXPECT_NEAR(all.total.item<double>(), all.terms["triplet"] + 0.3 * all.terms["center"] + 0.1 * all.terms["pnm"],
              1e-4);
  cfg["loss_center"] = false;
  auto no_center = small_model(cfg)->loss(images, captions);
  EXPECT_NEAR(no_center.total.item<double>(), all.terms["triplet"] + 0.1 * all.terms["pnm"], 1e-4);
  EXPECT_NEAR(no_center.terms["center"], all.terms["center"], 1e-5);  // still measured
  cfg["loss_pnm"] = false;
  auto triplet_only = small_model(cfg)->loss(images, captions);
  EXPECT_NEAR(triplet_only.total.item<double>(), all.terms["triplet"], 1e-5);
  cfg["score_pool"] = "max";
  EXPECT_THROW(small_model(cfg), Error);
}

TEST(Resg, PositiveNegativeMarginSeesEveryCaptionOfTheImage) {
  auto model = small_model(small_config());
  model->eval();
  auto images = random_images(6, 12);
  auto captions = random_captions(6, small_vocab().size(), 13);
  torch::NoGradGuard no_grad;
  auto term = [&](const std::vector<int64_t>& ids) {
    images.ids = ids;
    return model->loss(images, captions).terms.at("pnm");
  };
  const Encoding v = model->encode_images(images), t = model->encode_captions(captions);
  const auto s = resg::directional_scores(v.at("nodes"), v.at("mask"), t.at("nodes"), t.at("mask"), true);
  // One caption an image: L_pnm is the hardest-negative loss at margin delta.
  EXPECT_NEAR(term({0, 1, 2, 3, 4, 5}),
              resg::hardest_negative_loss(s.words, s.regions, torch::eye(6, torch::kBool), 0.7).item<double>(), 1e-4);
  // Two captions an image (a captions_per_image = 2 batch): the hard positive is
  // the worse of the two, as Eq. 19 defines it.
  const std::vector<int64_t> pairs = {7, 7, 8, 8, 9, 9};
  const double grouped = term(pairs);
  EXPECT_NEAR(grouped,
              resg::positive_negative_margin_loss(s.words, s.regions, positive_pairs(pairs, 6, torch::kCPU), 0.7)
                  .item<double>(),
              1e-4);
  EXPECT_GT(
      std::abs(
          grouped -
          resg::hardest_negative_loss(s.words, s.regions, positive_pairs(pairs, 6, torch::kCPU), 0.7).item<double>()),
      1e-6);
}

TEST(Resg, AdamStepsLowerTheLoss) {
  auto model = small_model(small_config());
  auto images = random_images(8, 10);
  auto captions = random_captions(8, small_vocab().size(), 11);
  const auto [first, last] = sm::testing::adam_steps(*model, images, captions, 2e-3, 30);
  EXPECT_LT(last, 0.7 * first) << first << " -> " << last;
}
