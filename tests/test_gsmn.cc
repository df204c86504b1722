#include <gtest/gtest.h>
#include <torch/torch.h>

#include "scenematch/core/runtime.h"
#include "scenematch/models/gsmn.h"
#include "scenematch/models/losses.h"
#include "scenematch/models/matcher.h"
#include "support/random_batches.h"
#include "support/short_training.h"

using namespace sm;

namespace {

constexpr int64_t kRegions = 6, kFeatures = 24, kMaxWords = 8;

Vocab small_vocab() { return sm::testing::numbered_vocab(32); }

Config small_config(const std::string& graph, const std::string& attention = "clipped",
                    const std::string& activation = "none") {
  Config c = matcher_preset("gsmn", "cpu");
  c["embed_size"] = 32;
  c["word_dim"] = 16;
  c["feature_dim"] = kFeatures;
  c["num_blocks"] = 4;
  c["gcn_kernels"] = 3;
  c["gcn_kernel_dim"] = 5;
  c["mlp_hidden"] = 8;
  c["lambda"] = 5.0;
  c["graph"] = graph;
  c["attention"] = attention;
  c["gcn_activation"] = activation;
  return c;
}

MatcherPtr make(const Config& c, uint64_t seed = 7) {
  torch::manual_seed(seed);
  static Vocab vocab = small_vocab();
  return make_matcher("gsmn", c, vocab);
}

// Images with a varying number of present regions (the rest masked).
ImageBatch random_images(int64_t n, uint64_t seed) {
  sm::testing::ImageSpec s;
  s.regions = kRegions;
  s.features = kFeatures;
  s.present = sm::testing::fewer_each(kRegions, 3);
  s.boxes = true;
  return sm::testing::random_images(n, s, seed);
}

// Captions of 2..kMaxWords words with random dependency edges between real words.
CaptionBatch random_captions(int64_t n, uint64_t seed) {
  sm::testing::CaptionSpec s;
  s.words = kMaxWords;
  s.vocab = 32;
  s.min_words = 2;
  s.edge_probability = 0.3;
  return sm::testing::random_captions(n, s, seed);
}

void expect_all_pairs_match_reference(Matcher& m, int64_t ni, int64_t nc) {
  torch::NoGradGuard g;
  auto images = m.encode_images(random_images(ni, 1));
  auto captions = m.encode_captions(random_captions(nc, 2));
  auto scores = m.score(images, captions);
  ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{ni, nc}));
  double worst = 0;
  for (int64_t i = 0; i < ni; ++i)
    for (int64_t c = 0; c < nc; ++c)
      worst = std::max(worst, std::abs(scores[i][c].item<double>() -
                                       gsmn::reference_score(m, images, i, captions, c).item<double>()));
  EXPECT_LT(worst, 1e-5);
}

}  // namespace

TEST(Gsmn, PresetsAndNeeds) {
  Config paper = matcher_preset("gsmn", "paper");
  EXPECT_EQ(paper["embed_size"], 1024);
  EXPECT_EQ(paper["batch_size"], 64);
  EXPECT_DOUBLE_EQ(paper["lambda"].get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(paper["margin"].get<double>(), 0.2);
  EXPECT_TRUE(make(small_config("sparse"))->needs().parses);
  EXPECT_FALSE(make(small_config("dense"))->needs().parses);
  EXPECT_TRUE(make(small_config("dense"))->needs().boxes);
  Config bad = small_config("dense");
  bad["graph"] = "full";
  EXPECT_THROW(make(bad), Error);
  bad = small_config("dense");
  bad["num_blocks"] = 5;  // does not divide 32
  EXPECT_THROW(make(bad), Error);
}

TEST(Gsmn, PaperPresetsRunThePrintedModelReleasePresetsTheAuthorsCode) {
  for (const char* name : {"paper", "paper-coco", "cpu"}) {
    SCOPED_TRACE(name);
    Config c = matcher_preset("gsmn", name);
    EXPECT_EQ(c["gcn_kernels"], 8);  // Sec. 4.1: 8 kernels of 32 dimensions
    EXPECT_EQ(c["gcn_kernel_dim"], 32);
    EXPECT_EQ(c["gcn_activation"], "tanh");
    EXPECT_EQ(c["attention"], "plain");
    EXPECT_EQ(c["structure"], "paper");
  }
  for (const char* name : {"release", "release-coco"}) {
    SCOPED_TRACE(name);
    Config c = matcher_preset("gsmn", name);
    EXPECT_EQ(c["gcn_kernel_dim"], 4);
    EXPECT_EQ(c["gcn_activation"], "none");
    EXPECT_EQ(c["attention"], "clipped");
    EXPECT_EQ(c["structure"], "release");
  }
  Config coco = matcher_preset("gsmn", "paper-coco");
  EXPECT_DOUBLE_EQ(coco["lambda"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(coco["lr"].get<double>(), 5e-4);
  EXPECT_EQ(coco["epochs"], 20);
  EXPECT_EQ(coco["lr_update"], 5);
  EXPECT_EQ(coco["batch_size"], 64);
  EXPECT_EQ(matcher_preset("gsmn", "release-coco")["batch_size"], 32);  // the release's README
  EXPECT_DOUBLE_EQ(matcher_preset("gsmn", "paper")["lr"].get<double>(), 2e-4);
  // The release variant never reads the caption graph; the paper's sparse graph needs parses.
  Config release = small_config("sparse");
  release["structure"] = "release";
  EXPECT_FALSE(make(release)->needs().parses);
}

TEST(Gsmn, EncodingShapes) {
  auto m = make(small_config("sparse"));
  torch::NoGradGuard g;
  auto images = m->encode_images(random_images(3, 1));
  auto captions = m->encode_captions(random_captions(4, 2));
  EXPECT_EQ(images.at("regions").sizes(), (std::vector<int64_t>{3, kRegions, 32}));
  EXPECT_EQ(images.at("graph").sizes(), (std::vector<int64_t>{3, 3, kRegions, kRegions}));
  EXPECT_EQ(captions.at("words").sizes(), (std::vector<int64_t>{4, kMaxWords, 32}));
  EXPECT_EQ(captions.at("graph").sizes(), (std::vector<int64_t>{4, kMaxWords, kMaxWords}));
  // Visual edge weights of each kernel are a distribution over the present neighbours.
  auto row_sums = images.at("graph").sum(-1);
  EXPECT_TRUE(torch::allclose(row_sums, torch::ones_like(row_sums), 1e-5, 1e-5));
  auto scores = m->score(images, captions);
  EXPECT_EQ(scores.sizes(), (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(torch::isfinite(scores).all().item<bool>());
  EXPECT_EQ(m->global_embedding(images, true).sizes(), (std::vector<int64_t>{3, 32}));
}

TEST(Gsmn, BatchedEqualsPerPairReference) {
  for (auto graph : {"sparse", "dense"})
    for (auto attention : {"clipped", "plain"}) {
      SCOPED_TRACE(std::string(graph) + " " + attention);
      auto m = make(small_config(graph, attention, std::string(attention) == "plain" ? "tanh" : "none"));
      expect_all_pairs_match_reference(*m, 5, 7);
    }
}

TEST(Gsmn, ChunkedScoringEqualsSmallBlocks) {
  // Enough pairs that score() splits the matrix into several chunks internally.
  auto m = make(small_config("dense"));
  torch::NoGradGuard g;
  auto images = m->encode_images(random_images(40, 3));
  auto captions = m->encode_captions(random_captions(700, 4));
  auto full = m->score(images, captions);
  for (int64_t i0 : {0, 17, 37})
    for (int64_t c0 : {0, 333, 696}) {
      auto block = m->score(images.slice(i0, i0 + 3), captions.slice(c0, c0 + 4));
      EXPECT_TRUE(torch::allclose(full.slice(0, i0, i0 + 3).slice(1, c0, c0 + 4), block, 1e-5, 1e-6));
    }
  EXPECT_NEAR(full[5][100].item<double>(), gsmn::reference_score(*m, images, 5, captions, 100).item<double>(), 1e-5);
}

TEST(Gsmn, ScoresDoNotDependOnThreadCount) {
  // The CPU engine deals its tiles out to threads, each with its own buffers.
  auto m = make(small_config("dense"));
  torch::NoGradGuard g;
  auto images = m->encode_images(random_images(9, 12));
  auto captions = m->encode_captions(random_captions(23, 13));
  const int before = torch::get_num_threads();
  set_threads(1);
  auto one = m->score(images, captions);
  set_threads(2);
  auto two = m->score(images, captions);
  // Evaluation scores under InferenceMode, which the worker threads must see too.
  torch::Tensor inference;
  {
    c10::InferenceMode mode;
    auto images_i = m->encode_images(random_images(9, 12));
    auto captions_i = m->encode_captions(random_captions(23, 13));
    inference = m->score(images_i, captions_i);
  }
  set_threads(before);
  EXPECT_TRUE(torch::allclose(one, two, 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(inference, two, 1e-6, 1e-7));
}

TEST(Gsmn, TrainingPathEqualsInferencePath) {
  // With autograd on, score() takes the tensor path instead of the fused kernels.
  auto m = make(small_config("sparse"));
  auto images = random_images(5, 16);
  auto captions = random_captions(9, 17);
  auto with_grad = m->score(m->encode_images(images), m->encode_captions(captions));
  ASSERT_TRUE(with_grad.requires_grad());
  torch::NoGradGuard g;
  auto inference = m->score(m->encode_images(images), m->encode_captions(captions));
  EXPECT_TRUE(torch::allclose(with_grad, inference, 1e-5, 1e-6));
}

TEST(Gsmn, PaddingAndAbsentRegionsAreIrrelevant) {
  auto m = make(small_config("sparse"));
  torch::NoGradGuard g;
  auto images = random_images(4, 5);
  auto captions = random_captions(5, 6);
  auto base = m->score(m->encode_images(images), m->encode_captions(captions));

  auto pad = ~captions.word_mask();
  CaptionBatch changed_words = captions;
  changed_words.tokens = captions.tokens.masked_fill(pad, 17);
  changed_words.adjacency = captions.adjacency.clone();
  ASSERT_GT(pad.sum().item<int64_t>(), 0);
  EXPECT_TRUE(torch::allclose(base, m->score(m->encode_images(images), m->encode_captions(changed_words)), 1e-6, 1e-6));

  auto absent = ~images.region_mask;
  ASSERT_GT(absent.sum().item<int64_t>(), 0);
  ImageBatch changed_regions = images;
  changed_regions.features = images.features.masked_fill(absent.unsqueeze(-1), 9.0);
  changed_regions.boxes = images.boxes.masked_fill(absent.unsqueeze(-1), 0.9);
  EXPECT_TRUE(
      torch::allclose(base, m->score(m->encode_images(changed_regions), m->encode_captions(captions)), 1e-6, 1e-6));
}

TEST(Gsmn, ParseAndGeometryChangeTheScore) {
  // Eq. 6 propagates neighbours, so (unlike the released code) the dependency
  // edges and the box layout both reach the score.
  torch::NoGradGuard g;
  auto images = random_images(3, 8);
  auto captions = random_captions(4, 9);
  auto sparse = make(small_config("sparse"), 11);
  auto dense = make(small_config("dense"), 11);
  auto s_sparse = sparse->score(sparse->encode_images(images), sparse->encode_captions(captions));
  auto s_dense = dense->score(dense->encode_images(images), dense->encode_captions(captions));
  EXPECT_GT((s_sparse - s_dense).abs().max().item<double>(), 1e-4);

  ImageBatch moved = images;
  moved.boxes = images.boxes.flip(1);  // same boxes, assigned to other regions
  auto s_moved = dense->score(dense->encode_images(moved), dense->encode_captions(captions));
  EXPECT_GT((s_moved - s_dense).abs().max().item<double>(), 1e-4);
}

TEST(Gsmn, GradientsReachEveryParameter) {
  for (auto graph : {"sparse", "dense"}) {
    SCOPED_TRACE(graph);
    auto m = make(small_config(graph));
    auto out = m->loss(random_images(6, 12), random_captions(6, 13));
    ASSERT_TRUE(out.terms.count("triplet"));
    ASSERT_GT(out.total.item<double>(), 0);
    out.total.backward();
    for (const auto& p : m->named_parameters()) {
      SCOPED_TRACE(p.key());
      ASSERT_TRUE(p.value().grad().defined());
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0);
    }
  }
}

TEST(Gsmn, SumOfViolationsDuringWarmupEpochs) {
  Config c = small_config("dense");
  c["sum_violation_epochs"] = 1;
  c["first_stage_head"] = false;  // the cross-attention loss alone (test_first_stage_head.cc adds the head's)
  auto m = make(c);
  auto images = random_images(6, 18);
  auto captions = random_captions(6, 19);
  torch::NoGradGuard g;
  auto scores = m->score(m->encode_images(images), m->encode_captions(captions));
  auto diagonal = torch::eye(6, torch::kBool);
  m->begin_step(0, 0);
  EXPECT_NEAR(m->loss(images, captions).total.item<double>(), triplet_loss(scores, diagonal, 0.2, false).item<double>(),
              1e-5);
  m->begin_step(100, 1);
  EXPECT_NEAR(m->loss(images, captions).total.item<double>(), triplet_loss(scores, diagonal, 0.2, true).item<double>(),
              1e-5);
}

TEST(Gsmn, CaptionsOfTheSameImageAreNotNegatives) {
  // Images 0 and 1 are one image with two captions. Scored as different
  // images, each caption is a negative of the other's image; as one image,
  // those pairs must leave the loss, as they do for every other model.
  Config c = small_config("dense");
  c["max_violation"] = false;
  c["first_stage_head"] = false;  // the cross-attention loss alone
  auto m = make(c);
  torch::NoGradGuard g;
  auto images = random_images(4, 20);
  images.features[1] = images.features[0];
  images.region_mask[1] = images.region_mask[0];
  images.boxes[1] = images.boxes[0];
  auto captions = random_captions(4, 21);
  const double margin = 0.2;
  auto scores = m->score(m->encode_images(images), m->encode_captions(captions));
  // The hinge costs the two duplicate pairs add, image and caption anchors alike.
  double duplicate_cost = 0;
  for (auto [i, j] : {std::pair{0, 1}, std::pair{1, 0}}) {
    duplicate_cost += std::max(0.0, margin + scores[i][j].item<double>() - scores[i][i].item<double>());
    duplicate_cost += std::max(0.0, margin + scores[i][j].item<double>() - scores[j][j].item<double>());
  }
  ASSERT_GT(duplicate_cost, 0.1);  // identical images: the pairs do violate the margin
  images.ids = {0, 1, 2, 3};
  const double as_different = m->loss(images, captions).total.item<double>();
  images.ids = {0, 0, 2, 3};
  const double as_same = m->loss(images, captions).total.item<double>();
  EXPECT_NEAR(as_same, as_different - duplicate_cost, 1e-4);
}

TEST(Gsmn, AdamStepsLowerTheLoss) {
  auto m = make(small_config("sparse"));
  auto images = random_images(8, 14);
  auto captions = random_captions(8, 15);
  const auto [first, last] = sm::testing::adam_steps(*m, images, captions, 2e-3, 40);
  EXPECT_LT(last, 0.5 * first);
}
