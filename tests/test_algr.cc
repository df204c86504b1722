#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "scenematch/data/vocab.h"
#include "scenematch/models/algr.h"
#include "scenematch/models/matcher.h"
#include "support/random_batches.h"

using namespace sm;

namespace {

constexpr int64_t kFeatures = 20, kRegions = 6, kMaxWords = 7;

Vocab small_vocab() { return sm::testing::numbered_vocab(32); }

Config small_config() {
  Config cfg = matcher_preset("algr", "cpu");
  cfg["embed_size"] = 32;
  cfg["word_dim"] = 16;
  cfg["feature_dim"] = kFeatures;
  return cfg;
}

MatcherPtr small_model(const Config& cfg = small_config()) {
  torch::manual_seed(7);
  return make_matcher("algr", cfg, small_vocab());
}

// The first epoch of phase 2, where every loss term is on.
void enter_phase2(Matcher& model) { model.on_step(0, cfg_get<int>(model.config(), "phase1_epochs")); }

// Images with a varying number of present regions (absent ones hold noise).
ImageBatch random_images(int64_t n, int64_t seed) {
  sm::testing::ImageSpec s;
  s.regions = kRegions;
  s.features = kFeatures;
  s.present = sm::testing::fewer_each(kRegions, 3);
  return sm::testing::random_images(n, s, seed);
}

// Captions of lengths 1..kMaxWords; padding holds 0 as the batcher writes it.
CaptionBatch random_captions(int64_t n, int64_t seed) {
  sm::testing::CaptionSpec s;
  s.words = kMaxWords;
  s.vocab = small_vocab().size();
  s.length = [](int64_t i) { return i == 0 ? 1 : 2 + (i * 3) % (kMaxWords - 1); };
  return sm::testing::random_captions(n, s, seed);
}

torch::Tensor scores_of(Matcher& model, const ImageBatch& images, const CaptionBatch& captions) {
  torch::NoGradGuard g;
  return model.score(model.encode_images(images), model.encode_captions(captions));
}

}  // namespace

TEST(Algr, ShapesNeedsAndEmbeddings) {
  auto model = small_model();
  const auto needs = model->needs();
  EXPECT_FALSE(needs.parses || needs.boxes || needs.scene_graphs);
  auto img = model->encode_images(random_images(5, 1));
  auto cap = model->encode_captions(random_captions(4, 2));
  EXPECT_EQ(img.at("emb").sizes(), (std::vector<int64_t>{5, 32}));
  EXPECT_EQ(cap.at("emb").sizes(), (std::vector<int64_t>{4, 32}));
  auto s = model->score(img, cap);
  EXPECT_EQ(s.sizes(), (std::vector<int64_t>{5, 4}));
  // Embedding-based: the score is the dot product of unit global embeddings.
  ASSERT_TRUE(model->embedding_scores());
  auto gi = model->global_embedding(img, true), gc = model->global_embedding(cap, false);
  EXPECT_TRUE(torch::allclose(gi.norm(2, 1), torch::ones({5}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(s, gi.matmul(gc.t()), 1e-6, 1e-6));
}

TEST(Algr, BatchedScoresEqualPerPairReference) {
  for (int64_t steps : {0, 2}) {
    Config cfg = small_config();
    cfg["ggnn_steps"] = steps;
    auto model = small_model(cfg);
    model->eval();
    auto images = random_images(5, 4);
    auto captions = random_captions(6, 5);
    auto s = scores_of(*model, images, captions);
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 6; ++j) {
        auto regions = images.features[i].index({images.region_mask[i]});
        auto tokens = captions.tokens[j].slice(0, 0, captions.lengths[j].item<int64_t>());
        EXPECT_NEAR(s[i][j].item<double>(), algr::reference_score(*model, regions, tokens), 1e-5)
            << "ggnn_steps " << steps << " pair " << i << "," << j;
      }
  }
}

TEST(Algr, PaddingWordsAndAbsentRegionsAreIrrelevant) {
  auto model = small_model();
  auto images = random_images(5, 6);
  auto captions = random_captions(6, 7);
  auto before = scores_of(*model, images, captions);
  auto absent = ~images.region_mask;
  images.features.index_put_({absent}, torch::randn({absent.sum().item<int64_t>(), kFeatures}) * 10);
  auto padding = ~captions.word_mask();
  captions.tokens.index_put_({padding}, torch::randint(2, small_vocab().size(), {padding.sum().item<int64_t>()}));
  auto after = scores_of(*model, images, captions);
  EXPECT_TRUE(torch::allclose(before, after, 1e-6, 1e-6)) << (before - after).abs().max();
  // The check can fail: changing a present region does change the scores.
  images.features[0][0] += 5;
  EXPECT_FALSE(torch::allclose(before, scores_of(*model, images, captions), 1e-4, 1e-4));
}

TEST(Algr, TrainingOnlyPartsDoNotChangeInferenceScores) {
  auto model = small_model();
  auto images = random_images(4, 8);
  auto captions = random_captions(4, 9);
  model->eval();
  auto eval_scores = scores_of(*model, images, captions);
  // Training mode (where latents are sampled) encodes the same embeddings.
  model->train();
  EXPECT_TRUE(torch::allclose(eval_scores, scores_of(*model, images, captions), 1e-6, 1e-6));
  model->eval();
  enter_phase2(*model);
  const double loss_before = model->loss(images, captions).total.item<double>();
  // sigma layers, cross-attention FCs and decoders serve the training losses only.
  {
    torch::NoGradGuard g;
    for (auto& item : model->named_parameters())
      for (const char* prefix : {"v_sigma", "t_sigma", "v_fc", "t_fc", "v_decoder", "t_decoder"})
        if (item.key().rfind(prefix, 0) == 0) item.value().add_(torch::randn_like(item.value()));
  }
  EXPECT_TRUE(torch::allclose(eval_scores, scores_of(*model, images, captions), 1e-6, 1e-6));
  EXPECT_NE(model->loss(images, captions).total.item<double>(), loss_before);
}

TEST(Algr, GradientsReachEveryParameterInPhase2) {
  auto model = small_model();
  model->train();
  enter_phase2(*model);
  auto out = model->loss(random_images(5, 10), random_captions(5, 11));
  for (const char* term : {"rank", "wd", "recon_v", "recon_t", "kl_v", "kl_t", "lambda"})
    EXPECT_TRUE(out.terms.count(term)) << term;
  out.total.backward();
  for (const auto& item : model->named_parameters()) {
    const auto& grad = item.value().grad();
    ASSERT_TRUE(grad.defined()) << item.key();
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0) << item.key();
  }
}

TEST(Algr, Phase1IsTheRankingLossAlone) {
  auto model = small_model();
  model->train();
  model->on_step(0, 0);
  auto out = model->loss(random_images(5, 12), random_captions(5, 13));
  EXPECT_EQ(out.terms.count("recon_v"), 0u);
  EXPECT_DOUBLE_EQ(out.total.item<double>(), out.terms.at("rank"));
  EXPECT_EQ(out.terms.at("lambda"), 0.0);
  out.total.backward();
  for (const auto& item : model->named_parameters())
    if (item.key().rfind("v_decoder", 0) == 0 || item.key().rfind("t_sigma", 0) == 0) {
      EXPECT_FALSE(item.value().grad().defined()) << item.key();
    }
}

TEST(Algr, LambdaScheduleRampsGeometricallyAfterPhase1) {
  Config cfg = small_config();
  cfg["phase1_epochs"] = 2;
  cfg["lambda_start"] = 1e-3;
  cfg["lambda_end"] = 0.5;
  cfg["lambda_ramp_end"] = 7;  // 1-based: lambda_end from 0-based epoch 6
  EXPECT_EQ(algr::lambda_at(cfg, 0), 0.0);
  EXPECT_EQ(algr::lambda_at(cfg, 1), 0.0);
  EXPECT_NEAR(algr::lambda_at(cfg, 2), 1e-3, 1e-12);
  EXPECT_NEAR(algr::lambda_at(cfg, 4), std::sqrt(1e-3 * 0.5), 1e-9);  // halfway in log space
  EXPECT_NEAR(algr::lambda_at(cfg, 6), 0.5, 1e-12);
  EXPECT_NEAR(algr::lambda_at(cfg, 20), 0.5, 1e-12);
  for (int e = 2; e < 6; ++e) EXPECT_LT(algr::lambda_at(cfg, e), algr::lambda_at(cfg, e + 1));
}

TEST(Algr, SamplingIsSeededAndOffAtEvaluation) {
  auto model = small_model();
  enter_phase2(*model);
  auto images = random_images(4, 14);
  auto captions = random_captions(4, 15);
  auto loss_with_seed = [&](uint64_t seed) {
    torch::manual_seed(seed);
    torch::NoGradGuard g;
    return model->loss(images, captions).total.item<double>();
  };
  model->train();
  EXPECT_EQ(loss_with_seed(1), loss_with_seed(1));
  EXPECT_NE(loss_with_seed(1), loss_with_seed(2));
  model->eval();
  EXPECT_EQ(loss_with_seed(1), loss_with_seed(2));
}

TEST(Algr, AdamStepsLowerTheLoss) {
  auto model = small_model();
  model->train();
  enter_phase2(*model);
  auto images = random_images(8, 16);
  auto captions = random_captions(8, 17);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(2e-3));
  auto eval_loss = [&] {
    torch::manual_seed(3);  // the same noise draw for both measurements
    torch::NoGradGuard g;
    return model->loss(images, captions).total.item<double>();
  };
  const double before = eval_loss();
  for (int step = 0; step < 30; ++step) {
    adam.zero_grad();
    model->loss(images, captions).total.backward();
    adam.step();
  }
  EXPECT_LT(eval_loss(), 0.8 * before);
}

namespace {

// Eq. 16 from the reported terms: lambda (recon + KL) + L_WD + L_rank, with absent terms 0.
double total_from_terms(const LossOutput& out) {
  double vae = 0;
  for (const char* term : {"recon_v", "recon_t", "kl_v", "kl_t"})
    if (out.terms.count(term)) vae += out.terms.at(term);
  return out.terms.at("lambda") * vae + out.terms.at("wd") + out.terms.at("rank");
}

// Phase-2 loss on fixed batches and noise, backpropagated; `off` names the
// ablation key set to false (none: the whole model).
LossOutput phase2_loss(MatcherPtr& model, const std::string& off = "") {
  Config cfg = small_config();
  if (!off.empty()) cfg[off] = false;
  model = small_model(cfg);
  model->train();
  enter_phase2(*model);
  torch::manual_seed(11);
  auto out = model->loss(random_images(5, 18), random_captions(5, 19));
  out.total.backward();
  return out;
}

bool has_gradient(Matcher& model, const std::string& prefix) {
  for (const auto& item : model.named_parameters())
    if (item.key().rfind(prefix, 0) == 0) {
      const auto& grad = item.value().grad();
      return grad.defined() && grad.abs().sum().item<double>() > 0;
    }
  ADD_FAILURE() << "no parameter named " << prefix;
  return false;
}

}  // namespace

TEST(Algr, TotalIsEquation16OfTheReportedTerms) {
  auto model = small_model();
  model->train();
  enter_phase2(*model);
  auto out = model->loss(random_images(5, 20), random_captions(5, 21));
  EXPECT_GT(out.terms.at("lambda"), 0.0);
  EXPECT_NEAR(out.total.item<double>(), total_from_terms(out), 1e-4);
}

TEST(Algr, ReconstructionTargetsKeepTheirSpreadAtEveryWidth) {
  // A decoder that always emits 0.5 must not match the nodes: the per-feature
  // reconstruction error it leaves is about the same at every width. Mapped by
  // (x + 1) / 2, the targets sat at 0.5 +- 1/(2 sqrt(d)) and this error fell as 1/d.
  auto per_feature_error = [](int64_t d) {
    Config cfg = small_config();
    cfg["embed_size"] = d;
    auto model = small_model(cfg);
    model->eval();
    enter_phase2(*model);
    {
      torch::NoGradGuard g;
      for (auto& item : model->named_parameters())
        if (item.key().rfind("v_decoder", 0) == 0 || item.key().rfind("t_decoder", 0) == 0) item.value().zero_();
    }
    torch::NoGradGuard g;
    auto out = model->loss(random_images(6, 22), random_captions(6, 23));
    return std::make_pair(out.terms.at("recon_v") / double(d), out.terms.at("recon_t") / double(d));
  };
  const auto narrow = per_feature_error(16), wide = per_feature_error(256);
  for (const auto& [v, t] : {narrow, wide}) {
    EXPECT_GT(v, 0.01);  // 0.5 E[(sigmoid(z) - 1/2)^2] = 0.021 for unit-RMS z
    EXPECT_GT(t, 0.01);
  }
  EXPECT_GT(wide.first, 0.5 * narrow.first);
  EXPECT_GT(wide.second, 0.5 * narrow.second);
}

TEST(Algr, WithoutGraphDecodersNeitherDecodersNorCrossAttentionRun) {
  MatcherPtr model;
  auto out = phase2_loss(model, "graph_decoders");
  EXPECT_EQ(out.terms.count("recon_v"), 0u);
  EXPECT_EQ(out.terms.count("recon_t"), 0u);
  for (const char* term : {"kl_v", "kl_t", "wd", "rank"}) EXPECT_EQ(out.terms.count(term), 1u) << term;
  EXPECT_NEAR(out.total.item<double>(), total_from_terms(out), 1e-4);
  for (const char* part : {"v_decoder", "t_decoder", "v_fc", "t_fc"}) EXPECT_FALSE(has_gradient(*model, part)) << part;
  EXPECT_TRUE(has_gradient(*model, "v_sigma"));  // through the KL and L_WD
  MatcherPtr full;
  const auto whole = phase2_loss(full);
  EXPECT_LT(out.total.item<double>(), whole.total.item<double>());  // the reconstruction terms are gone
  for (const char* term : {"kl_v", "kl_t", "wd", "rank"})
    EXPECT_NEAR(out.terms.at(term), whole.terms.at(term), 1e-6) << term;
}

TEST(Algr, WithoutPriorDistributionNothingIsSampledAndNoKl) {
  MatcherPtr model;
  auto out = phase2_loss(model, "prior_distribution");
  EXPECT_EQ(out.terms.count("kl_v"), 0u);
  EXPECT_EQ(out.terms.count("kl_t"), 0u);
  for (const char* term : {"recon_v", "recon_t", "wd", "rank"}) EXPECT_EQ(out.terms.count(term), 1u) << term;
  EXPECT_NEAR(out.total.item<double>(), total_from_terms(out), 1e-4);
  for (const char* part : {"v_decoder", "t_fc"}) EXPECT_TRUE(has_gradient(*model, part)) << part;
  MatcherPtr full;
  const auto whole = phase2_loss(full);
  EXPECT_GT(std::abs(out.terms.at("recon_v") - whole.terms.at("recon_v")), 1e-4);  // decoded from Z, not Zhat
  EXPECT_NEAR(out.terms.at("wd"), whole.terms.at("wd"), 1e-6);
  // Zhat = Z: the training loss no longer depends on the noise draw.
  auto images = random_images(4, 24);
  auto captions = random_captions(4, 25);
  auto loss_with_seed = [&](uint64_t seed) {
    torch::manual_seed(seed);
    torch::NoGradGuard g;
    return model->loss(images, captions).total.item<double>();
  };
  EXPECT_EQ(loss_with_seed(1), loss_with_seed(2));
}

TEST(Algr, WithoutCrossAttentionTheDecodersReadTheLatents) {
  MatcherPtr full, model;
  const auto whole = phase2_loss(full), out = phase2_loss(model, "cross_attention");
  for (const char* term : {"recon_v", "recon_t", "kl_v", "kl_t", "wd", "rank"})
    EXPECT_EQ(out.terms.count(term), 1u) << term;
  EXPECT_NEAR(out.total.item<double>(), total_from_terms(out), 1e-4);
  for (const char* part : {"v_fc", "t_fc"}) EXPECT_FALSE(has_gradient(*model, part)) << part;
  for (const char* part : {"v_decoder", "t_decoder", "v_sigma"}) EXPECT_TRUE(has_gradient(*model, part)) << part;
  // Same weights and noise: only the reconstructions change.
  EXPECT_GT(std::abs(out.terms.at("recon_v") - whole.terms.at("recon_v")), 1e-4);
  EXPECT_GT(std::abs(out.terms.at("recon_t") - whole.terms.at("recon_t")), 1e-4);
  for (const char* term : {"kl_v", "kl_t", "wd", "rank"})
    EXPECT_NEAR(out.terms.at(term), whole.terms.at(term), 1e-6) << term;
}

TEST(Algr, PresetsKeepThePaperValuesWithTheNegativeWarmUp) {
  const Config paper = matcher_preset("algr", "paper");
  EXPECT_EQ(paper["embed_size"], 2048);
  EXPECT_DOUBLE_EQ(paper["lr"].get<double>(), 1e-4);
  EXPECT_EQ(paper["batch_size"], 128);
  EXPECT_DOUBLE_EQ(paper["margin"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(paper["lambda_start"].get<double>(), 1e-3);
  EXPECT_EQ(paper["lambda_ramp_end"], 15);
  for (const char* preset : {"paper", "cpu"}) {
    const Config cfg = matcher_preset("algr", preset);
    // The departure: one epoch of summed violations before the paper's hardest negatives.
    EXPECT_EQ(cfg["sum_violation_epochs"], 1) << preset;
    EXPECT_TRUE(cfg["max_violation"].get<bool>()) << preset;
    for (const char* part : {"graph_decoders", "prior_distribution", "cross_attention"})
      EXPECT_TRUE(cfg[part].get<bool>()) << preset << " " << part;
  }
}
