// The first-stage head of GSMN, SGM and ReSG (models/first_stage_head.h): its
// gradients reach it, weight 0 switches it off, global_embedding() returns its
// vectors, a detached head leaves the model's training as it is, a model
// without one keeps the mean-node proxy, and the distillation term is the KL
// of the softmaxes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "scenematch/models/first_stage_head.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/matcher.h"
#include "support/random_batches.h"

using namespace sm;

namespace {

constexpr int64_t kVocab = 30, kFeatures = 12, kRegions = 5, kWords = 6, kEmbed = 16, kBatch = 6;

struct Case {
  std::string model;
  Config config;
  std::string image_nodes, image_mask, caption_nodes, caption_mask;  // what the mean-node proxy pools
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const std::string& name : {"gsmn", "sgm", "resg"}) {
    Config c = matcher_preset(name, "cpu");
    c["embed_size"] = kEmbed;
    c["word_dim"] = 8;
    c["feature_dim"] = kFeatures;
    if (name == "gsmn") {
      c["num_blocks"] = 4;
      c["gcn_kernels"] = 2;
      c["gcn_kernel_dim"] = 3;
      c["mlp_hidden"] = 4;
      out.push_back({name, c, "regions", "region_mask", "words", "word_mask"});
    } else if (name == "sgm") {
      out.push_back({name, c, "objects", "object_mask", "words", "word_mask"});
    } else {
      c["gru_hidden"] = 12;
      c["vreg_layers"] = 1;
      c["treg_layers"] = 1;
      out.push_back({name, c, "nodes", "mask", "nodes", "mask"});
    }
  }
  return out;
}

MatcherPtr make(const Case& c, const Config& config) {
  torch::manual_seed(11);
  static const Vocab vocab = sm::testing::numbered_vocab(kVocab);
  return make_matcher(c.model, config, vocab);
}
MatcherPtr make(const Case& c) { return make(c, c.config); }

Config with(Config config, const std::string& key, const Json& value) {
  config[key] = value;
  return config;
}

// One batch every model reads: boxes (GSMN), a scene graph (SGM), POS tags (ReSG), triplets (SGM).
ImageBatch images(uint64_t seed = 3) {
  sm::testing::ImageSpec s;
  s.regions = kRegions;
  s.features = kFeatures;
  s.present = sm::testing::fewer_each(kRegions, 2);
  s.boxes = true;
  s.objects = 2;
  s.relations = 2;
  s.vocab = kVocab;
  return sm::testing::random_images(kBatch, s, seed);
}
CaptionBatch captions(uint64_t seed = 4) {
  sm::testing::CaptionSpec s;
  s.words = kWords;
  s.vocab = kVocab;
  s.min_words = 2;
  s.pos = true;
  s.triplets = 2;
  return sm::testing::random_captions(kBatch, s, seed);
}

bool is_head(const std::string& key) { return key.rfind(std::string(kFirstStageHeadName) + ".", 0) == 0; }

}  // namespace

TEST(FirstStageHead, OnInTheTrainingPresetsOffInTheRelease) {
  for (const char* model : {"gsmn", "sgm", "resg"})
    for (const char* preset : {"cpu", "paper"})
      EXPECT_TRUE(matcher_preset(model, preset).at("first_stage_head").get<bool>()) << model << " " << preset;
  EXPECT_FALSE(matcher_preset("gsmn", "release").at("first_stage_head").get<bool>());
}

TEST(FirstStageHead, GradientsReachTheHead) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.model);
    auto model = make(c);
    ASSERT_NE(first_stage_head_of(*model), nullptr);
    LossOutput out = model->loss(images(), captions());
    ASSERT_TRUE(out.terms.count("first_stage"));
    EXPECT_GT(out.terms.at("first_stage"), 0);
    out.total.backward();
    int heads = 0;
    for (const auto& p : model->named_parameters()) {
      if (!is_head(p.key())) continue;
      ++heads;
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
    }
    EXPECT_EQ(heads, 4);  // image and caption weight and bias
  }
}

TEST(FirstStageHead, WeightZeroLeavesTheModelsLoss) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.model);
    auto model = make(c, with(c.config, "first_stage_weight", 0.0));
    auto without = make(c, with(c.config, "first_stage_head", false));
    LossOutput out = model->loss(images(), captions());
    EXPECT_DOUBLE_EQ(out.total.item<double>(), without->loss(images(), captions()).total.item<double>());
    out.total.backward();
    for (const auto& p : model->named_parameters())
      if (is_head(p.key()))
        EXPECT_TRUE(!p.value().grad().defined() || p.value().grad().abs().sum().item<double>() == 0) << p.key();
  }
}

TEST(FirstStageHead, GlobalEmbeddingIsTheHeadsVectorAndScoreIgnoresIt) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.model);
    auto model = make(c);
    torch::NoGradGuard no_grad;
    const Encoding img = model->encode_images(images()), cap = model->encode_captions(captions());
    const torch::Tensor vi = model->global_embedding(img, true), vc = model->global_embedding(cap, false);
    EXPECT_EQ(vi.sizes(), (std::vector<int64_t>{kBatch, kEmbed}));
    EXPECT_EQ(vc.sizes(), (std::vector<int64_t>{kBatch, kEmbed}));
    EXPECT_TRUE(torch::allclose(vi.norm(2, 1), torch::ones({kBatch}), 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(vc.norm(2, 1), torch::ones({kBatch}), 1e-5, 1e-5));
    const torch::Tensor scores = model->score(img, cap);
    // Changing the head's image projection changes the image vectors only, and never the score.
    model->named_parameters()[std::string(kFirstStageHeadName) + ".image.weight"].mul_(-1);
    EXPECT_GT((model->global_embedding(img, true) - vi).abs().max().item<double>(), 1e-3);
    EXPECT_TRUE(torch::equal(model->global_embedding(cap, false), vc));
    EXPECT_TRUE(torch::equal(model->score(img, cap), scores));
  }
}

TEST(FirstStageHead, WithoutTheKeyTheModelKeepsTheMeanNodeProxy) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.model);
    Config old = c.config;  // a checkpoint written before the head existed
    for (const char* key : {"first_stage_head", "first_stage_weight", "first_stage_distill", "first_stage_temperature",
                            "first_stage_detach"})
      old.erase(key);
    auto model = make(c, old);
    EXPECT_EQ(first_stage_head_of(*model), nullptr);
    for (const auto& p : model->named_parameters()) EXPECT_FALSE(is_head(p.key())) << p.key();
    torch::NoGradGuard no_grad;
    const Encoding img = model->encode_images(images()), cap = model->encode_captions(captions());
    EXPECT_TRUE(torch::allclose(model->global_embedding(img, true),
                                l2norm(masked_mean(img.at(c.image_nodes), img.at(c.image_mask)))));
    EXPECT_TRUE(torch::allclose(model->global_embedding(cap, false),
                                l2norm(masked_mean(cap.at(c.caption_nodes), cap.at(c.caption_mask)))));
  }
}

// Steps of Adam with the trainer's clipping on a model with the head and on
// one without: every weight outside the head ends equal when the head is
// detached, and not when its gradients reach the encoders.
TEST(FirstStageHead, DetachedHeadLeavesTheModelsTrainingAsItIs) {
  auto train = [](Matcher& model) {
    torch::optim::Adam adam(model.parameters(), torch::optim::AdamOptions(1e-2));
    for (int step = 0; step < 3; ++step) {
      model.begin_step(step, 5);
      adam.zero_grad();
      model.loss(images(10 + step), captions(20 + step)).total.backward();
      for (const auto& group : clip_groups(model)) torch::nn::utils::clip_grad_norm_(group, 0.5);
      adam.step();
    }
  };
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.model);
    auto without = make(c, with(c.config, "first_stage_head", false));
    train(*without);
    const auto reference = without->named_parameters();
    for (bool detach : {true, false}) {
      SCOPED_TRACE(detach ? "detached" : "attached");
      auto model = make(c, with(with(c.config, "first_stage_detach", detach), "first_stage_distill", 1.0));
      train(*model);
      double largest = 0;
      for (const auto& p : model->named_parameters())
        if (!is_head(p.key())) largest = std::max(largest, (p.value() - reference[p.key()]).abs().max().item<double>());
      if (detach)
        EXPECT_EQ(largest, 0);
      else
        EXPECT_GT(largest, 1e-6);
    }
  }
}

TEST(FirstStageHead, DistillationIsTheKlOfTheSoftmaxesByHand) {
  const torch::Tensor student = torch::tensor({{0.9, 0.1, -0.3}, {0.2, 0.5, 0.4}, {-0.1, 0.3, 0.8}}, torch::kDouble);
  const torch::Tensor teacher = torch::tensor({{1.5, 0.2, 0.7}, {0.1, 1.1, -0.4}, {0.3, 0.6, 1.9}}, torch::kDouble);
  const double t = 0.5;
  auto s = student.accessor<double, 2>();
  auto q = teacher.accessor<double, 2>();
  // KL(p || q) over one row (by_row) or column of the 3x3 matrices.
  auto kl = [&](int64_t line, bool by_row) {
    double zp = 0, zq = 0;
    for (int64_t k = 0; k < 3; ++k) {
      zp += std::exp((by_row ? q[line][k] : q[k][line]) / t);
      zq += std::exp((by_row ? s[line][k] : s[k][line]) / t);
    }
    double sum = 0;
    for (int64_t k = 0; k < 3; ++k) {
      const double p = std::exp((by_row ? q[line][k] : q[k][line]) / t) / zp;
      const double r = std::exp((by_row ? s[line][k] : s[k][line]) / t) / zq;
      sum += p * std::log(p / r);
    }
    return sum;
  };
  double expected = 0;
  for (int64_t line = 0; line < 3; ++line) expected += kl(line, true) + kl(line, false);
  const torch::Tensor student_var = student.clone().requires_grad_(true);
  const torch::Tensor teacher_var = teacher.clone().requires_grad_(true);
  const torch::Tensor got = score_distillation(student_var, teacher_var, t);
  EXPECT_NEAR(got.item<double>(), expected, 1e-12);
  got.backward();
  EXPECT_GT(student_var.grad().abs().sum().item<double>(), 0);
  EXPECT_FALSE(teacher_var.grad().defined());  // the teacher is a target only
  // Equal distributions: nothing to distil.
  EXPECT_NEAR(score_distillation(teacher, teacher, t).item<double>(), 0, 1e-12);
}
