#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "scenematch/models/hrem.h"
#include "scenematch/models/matcher.h"
#include "support/random_batches.h"
#include "support/short_training.h"

using namespace sm;

namespace {

constexpr int64_t kFeatures = 10, kEmbed = 32, kRegions = 6, kWords = 7;

Vocab small_vocab() { return sm::testing::numbered_vocab(22); }

Config small_config(const std::string& interaction = "fusion", const std::string& pool = "top2") {
  Config cfg = matcher_preset("hrem", "cpu");
  cfg["embed_size"] = kEmbed;
  cfg["word_dim"] = 8;
  cfg["feature_dim"] = kFeatures;
  cfg["heads"] = 4;
  cfg["ff_dim"] = 32;
  cfg["dropout"] = 0.0;
  cfg["topk"] = 4;
  cfg["warmup_steps"] = 0;
  cfg["negatives"] = "hardest";  // deterministic losses for these tests; sampling has its own
  cfg["max_violation"] = false;  // all negatives, the warm-up epoch's loss
  cfg["interaction"] = interaction;
  cfg["max_pool"] = pool;
  return cfg;
}

// Distinct images with some absent regions, captions of varied lengths.
ImageBatch random_images(int64_t n) {
  sm::testing::ImageSpec s;
  s.regions = kRegions;
  s.features = kFeatures;
  s.present = [](int64_t i) { return i % 2 ? kRegions : kRegions - 1 - i % 3; };
  return sm::testing::random_images(n, s);
}

CaptionBatch random_captions(int64_t n, int64_t vocab_size) {
  sm::testing::CaptionSpec s;
  s.words = kWords;
  s.vocab = vocab_size;
  s.length = [](int64_t i) { return i % 2 ? 2 + i % (kWords - 2) : kWords; };
  return sm::testing::random_captions(n, s);
}

ImageBatch one_image(const ImageBatch& b, int64_t i) {
  ImageBatch o;
  o.ids = {b.ids[i]};
  o.features = b.features.slice(0, i, i + 1);
  o.region_mask = b.region_mask.slice(0, i, i + 1);
  return o;
}

CaptionBatch one_caption(const CaptionBatch& b, int64_t i) {
  CaptionBatch o;
  o.ids = {b.ids[i]};
  const int64_t len = b.lengths[i].item<int64_t>();
  o.tokens = b.tokens.slice(0, i, i + 1).slice(1, 0, len);
  o.lengths = b.lengths.slice(0, i, i + 1);
  return o;
}

}  // namespace

TEST(Hrem, PresetsAndConfigErrors) {
  Config paper = matcher_preset("hrem", "paper");
  EXPECT_EQ(paper["embed_size"], 1024);
  EXPECT_EQ(paper["batch_size"], 128);
  EXPECT_EQ(paper["heads"], 16);
  EXPECT_EQ(paper["warmup_steps"], 8000);
  EXPECT_DOUBLE_EQ(paper["margin"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(paper["tau"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(paper["lambda"].get<double>(), 1.5);
  EXPECT_EQ(paper["topk"], 10);
  EXPECT_EQ(matcher_preset("hrem", "cpu")["embed_size"], 256);
  Vocab vocab = small_vocab();
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"interaction", "both"}, {"max_pool", "top3"}, {"text_encoder", "bert"}, {"text_encoder", "lstm"}}) {
    Config bad = small_config();
    bad[key] = value;
    EXPECT_THROW(make_matcher("hrem", bad, vocab), Error) << key << "=" << value;
  }
  Config bert = small_config();
  bert["text_encoder"] = "bert";
  try {
    make_matcher("hrem", bert, vocab);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs weights from a path"), std::string::npos) << e.what();
  }
}

TEST(Hrem, BlockScoresEqualPerPairCosines) {
  torch::manual_seed(1);
  Vocab vocab = small_vocab();
  for (const char* pool : {"top2", "max"}) {
    MatcherPtr m = make_matcher("hrem", small_config("fusion", pool), vocab);
    m->eval();
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(m->embedding_scores());
    ImageBatch imgs = random_images(5);
    CaptionBatch caps = random_captions(6, vocab.size());
    Encoding ei = m->encode_images(imgs), ec = m->encode_captions(caps);
    ASSERT_EQ(ei.at("emb").sizes(), torch::IntArrayRef({5, kEmbed}));
    ASSERT_EQ(ec.at("emb").sizes(), torch::IntArrayRef({6, kEmbed}));
    EXPECT_TRUE(torch::allclose(ei.at("emb").norm(2, 1), torch::ones({5}), 1e-5, 1e-5));
    torch::Tensor block = m->score(ei, ec);
    ASSERT_EQ(block.sizes(), torch::IntArrayRef({5, 6}));
    EXPECT_TRUE(torch::allclose(block, m->global_embedding(ei, true).matmul(m->global_embedding(ec, false).t())));
    // Each item encoded alone (no padding in its batch), cosine by a plain loop.
    for (int64_t i = 0; i < 5; ++i) {
      auto v = m->encode_images(one_image(imgs, i)).at("emb")[0];
      for (int64_t c = 0; c < 6; ++c) {
        auto u = m->encode_captions(one_caption(caps, c)).at("emb")[0];
        double dot = 0, nv = 0, nu = 0;
        for (int64_t k = 0; k < kEmbed; ++k) {
          const double a = v[k].item<double>(), b = u[k].item<double>();
          dot += a * b, nv += a * a, nu += b * b;
        }
        EXPECT_NEAR(block[i][c].item<double>(), dot / std::sqrt(nv * nu), 1e-5) << pool << " " << i << "," << c;
      }
    }
  }
}

TEST(Hrem, PaddingWordsAndAbsentRegionsAreIgnored) {
  torch::manual_seed(3);
  Vocab vocab = small_vocab();
  MatcherPtr m = make_matcher("hrem", small_config(), vocab);
  m->eval();
  torch::NoGradGuard no_grad;
  ImageBatch imgs = random_images(3);
  ASSERT_FALSE(imgs.region_mask[0][kRegions - 1].item<bool>());
  ImageBatch changed = imgs;
  changed.features = imgs.features.clone();
  changed.features.masked_fill_(imgs.region_mask.logical_not().unsqueeze(-1), 100.0);
  auto a = m->encode_images(imgs).at("emb"), b = m->encode_images(changed).at("emb");
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-6));
  changed.features[0][0] += 1;  // a present region does matter
  EXPECT_FALSE(torch::allclose(a, m->encode_images(changed).at("emb"), 1e-6, 1e-6));

  CaptionBatch caps = random_captions(4, vocab.size());
  ASSERT_LT(caps.lengths[1].item<int64_t>(), kWords);
  CaptionBatch padded = caps;
  padded.tokens = caps.tokens.masked_fill(caps.word_mask().logical_not(), 5);
  auto c = m->encode_captions(caps).at("emb"), d = m->encode_captions(padded).at("emb");
  EXPECT_TRUE(torch::allclose(c, d, 1e-6, 1e-6));
  padded.tokens[1][0] = (padded.tokens[1][0].item<int64_t>() == 6) ? 7 : 6;  // a real word does matter
  EXPECT_FALSE(torch::allclose(c, m->encode_captions(padded).at("emb"), 1e-6, 1e-6));

  // The fragment matching values ignore padding too.
  auto regions = torch::randn({3, kRegions, 8}), words = torch::randn({4, kWords, 8});
  auto wmask = caps.word_mask();
  auto m1 = hrem::fragment_matching(regions, imgs.region_mask, words, wmask, 4);
  auto m2 =
      hrem::fragment_matching(regions.masked_fill(imgs.region_mask.logical_not().unsqueeze(-1), 7.0), imgs.region_mask,
                              words.masked_fill(wmask.logical_not().unsqueeze(-1), -3.0), wmask, 4);
  EXPECT_TRUE(torch::allclose(m1.p_i2t, m2.p_i2t, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(m1.q_t2i, m2.q_t2i, 1e-6, 1e-6));
}

// Eq. 7-9 for one pair, with loops, against the batched GEMM version.
TEST(Hrem, FragmentMatchingEqualsPerPairLoops) {
  torch::manual_seed(5);
  const int64_t ni = 3, nc = 4, nr = 5, nw = 6, d = 8, k = 3;
  auto regions = torch::randn({ni, nr, d}), words = torch::randn({nc, nw, d});
  auto rmask = torch::ones({ni, nr}, torch::kBool), wmask = torch::ones({nc, nw}, torch::kBool);
  rmask[1].slice(0, 3) = false;
  wmask[2].slice(0, 2) = false;  // two words: fewer than K, so q is zero-padded
  auto m = hrem::fragment_matching(regions, rmask, words, wmask, k);
  ASSERT_EQ(m.p_i2t.sizes(), torch::IntArrayRef({ni, nc}));
  ASSERT_EQ(m.q_t2i.sizes(), torch::IntArrayRef({nc, ni, k}));
  for (int64_t i = 0; i < ni; ++i)
    for (int64_t c = 0; c < nc; ++c) {
      std::vector<int64_t> rs, ws;
      for (int64_t r = 0; r < nr; ++r)
        if (rmask[i][r].item<bool>()) rs.push_back(r);
      for (int64_t w = 0; w < nw; ++w)
        if (wmask[c][w].item<bool>()) ws.push_back(w);
      std::vector<std::vector<double>> s(ws.size(), std::vector<double>(rs.size()));
      for (size_t w = 0; w < ws.size(); ++w)
        for (size_t r = 0; r < rs.size(); ++r) {
          auto a = words[c][ws[w]], b = regions[i][rs[r]];
          double cos = (a.dot(b) / (a.norm() * b.norm())).item<double>();
          s[w][r] = cos > 0 ? cos : 0.1 * cos;
        }
      std::vector<double> word_best, region_best;
      for (size_t w = 0; w < ws.size(); ++w) {
        double best = -1e9;
        for (size_t r = 0; r < rs.size(); ++r) {
          double col = 0;
          for (size_t w2 = 0; w2 < ws.size(); ++w2) col += s[w2][r] * s[w2][r];
          best = std::max(best, s[w][r] / std::sqrt(col));
        }
        word_best.push_back(best);
      }
      for (size_t r = 0; r < rs.size(); ++r) {
        double best = -1e9;
        for (size_t w = 0; w < ws.size(); ++w) {
          double row = 0;
          for (size_t r2 = 0; r2 < rs.size(); ++r2) row += s[w][r2] * s[w][r2];
          best = std::max(best, s[w][r] / std::sqrt(row));
        }
        region_best.push_back(best);
      }
      auto mean = [](const std::vector<double>& v) {
        double t = 0;
        for (double x : v) t += x;
        return t / v.size();
      };
      EXPECT_NEAR(m.p_t2i[c][i].item<double>(), mean(word_best), 1e-5);
      EXPECT_NEAR(m.p_i2t[i][c].item<double>(), mean(region_best), 1e-5);
      std::sort(word_best.rbegin(), word_best.rend());
      word_best.resize(k, 0.0);
      for (int64_t j = 0; j < k; ++j) EXPECT_NEAR(m.q_t2i[c][i][j].item<double>(), word_best[j], 1e-5);
    }
}

TEST(Hrem, PaperAndReleasePresets) {
  for (const char* name : {"paper", "paper-coco", "cpu"}) {
    SCOPED_TRACE(name);
    Config c = matcher_preset("hrem", name);
    EXPECT_EQ(c["negatives"], "distance_weighted");  // Sec. 4.1, Eq. 13
    EXPECT_EQ(c["max_pool"], "max");                 // Eq. 2
    EXPECT_EQ(c["kernel_distance"], "squared");      // Eqs. 10-11
    EXPECT_DOUBLE_EQ(c["lambda"].get<double>(), 1.5);
  }
  for (const char* name : {"release", "release-coco"}) {
    SCOPED_TRACE(name);
    Config c = matcher_preset("hrem", name);
    EXPECT_EQ(c["negatives"], "distance_weighted");
    EXPECT_EQ(c["max_pool"], "top2");
    EXPECT_EQ(c["kernel_distance"], "plain");
    EXPECT_DOUBLE_EQ(c["lambda"].get<double>(), 1.0);
  }
  for (const char* name : {"paper", "release"}) {
    Config c = matcher_preset("hrem", name);
    EXPECT_EQ(c["lr_milestones"], Json({15, 25})) << name;
    EXPECT_EQ(c["batch_size"], 128) << name;
    EXPECT_DOUBLE_EQ(c["dw_nonzero_cutoff"].get<double>(), 1.7) << name;
    Config coco = matcher_preset("hrem", std::string(name) + "-coco");
    EXPECT_EQ(coco["batch_size"], 256) << name;
    EXPECT_DOUBLE_EQ(coco["dw_nonzero_cutoff"].get<double>(), 1.9) << name;
  }
  Config bad = small_config();
  bad["negatives"] = "semi_hard";
  Vocab vocab = small_vocab();
  EXPECT_THROW(make_matcher("hrem", bad, vocab), Error);
}

// One anchor row: its own positive and another caption of the same image, two
// negatives inside the cut-off and one beyond it. The mean loss over many
// draws must match the distance-weighted distribution over the two near
// negatives only (positives and far negatives are never drawn).
TEST(Hrem, DistanceWeightedSamplingDrawsNegativesByInverseDensity) {
  hrem::DistanceWeighting w;
  w.dim = 5;  // a mild density, so both near negatives are drawn often
  const std::vector<double> s = {-0.9, 0.9, 0.6, 0.0, -0.5};
  torch::Tensor scores = torch::tensor(s, torch::kDouble).unsqueeze(0);
  torch::Tensor positives = torch::tensor({1, 1, 0, 0, 0}, torch::kBool).unsqueeze(0);
  auto log_weight = [&](double sim) {
    const double d = std::max(std::sqrt(2 - 2 * sim), w.cutoff);
    return (2 - w.dim) * std::log(d) - (w.dim - 3) / 2 * std::log(1 - d * d / 4);
  };
  ASSERT_GE(std::sqrt(2 - 2 * s[4]), w.nonzero_cutoff);  // the far negative is excluded
  const double w2 = std::exp(log_weight(s[2])), w3 = std::exp(log_weight(s[3]));
  auto hinge = [&](double ap, double an) { return std::max(0.0, w.margin + an - ap); };
  // Anchor pair (0, 0): s_ap = -0.9; anchor pair (0, 1): s_ap = 0.9 (no violation for either negative).
  const double expected =
      (w2 * (hinge(s[0], s[2]) + hinge(s[1], s[2])) + w3 * (hinge(s[0], s[3]) + hinge(s[1], s[3]))) / (w2 + w3);
  torch::manual_seed(11);
  const int draws = 4000;
  double sum = 0;
  for (int i = 0; i < draws; ++i) sum += hrem::distance_weighted_anchor_loss(scores, positives, w).item<double>();
  // Drawing the far negative as well would move the mean by about 0.2, a positive by more.
  EXPECT_NEAR(sum / draws, expected, 0.03);
  // No negative left inside the cut-off: the row adds nothing.
  torch::Tensor far = torch::tensor({0.5, -0.9, -0.95}, torch::kDouble).unsqueeze(0);
  EXPECT_EQ(
      hrem::distance_weighted_anchor_loss(far, torch::tensor({1, 0, 0}, torch::kBool).unsqueeze(0), w).item<double>(),
      0.0);
}

TEST(Hrem, DistanceWeightedLossTrainsWithoutTheSumWarmUp) {
  Vocab vocab = small_vocab();
  torch::manual_seed(4);
  Config cfg = small_config();
  cfg["negatives"] = "distance_weighted";
  cfg["dw_dim"] = 16;  // the release's 512 is for d = 1024; here d is tiny
  MatcherPtr m = make_matcher("hrem", cfg, vocab);
  ImageBatch imgs = random_images(12);
  CaptionBatch caps = random_captions(12, vocab.size());
  LossOutput out = m->loss(imgs, caps);
  ASSERT_GT(out.total.item<double>(), 0);
  out.total.backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  }
}

TEST(Hrem, InstanceGraphMasksFollowTheTopTauRule) {
  torch::manual_seed(6);
  const int64_t n = 6;
  auto v = torch::nn::functional::normalize(torch::randn({n, 8}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto u = torch::nn::functional::normalize(torch::randn({n, 8}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto p_i2t = torch::randn({n, n}), p_t2i = torch::randn({n, n});
  auto s_i2t = torch::randn({n, n}), s_t2i = torch::randn({n, n});
  auto g = hrem::build_graph(v, u, p_i2t, p_t2i, s_i2t, s_t2i, 0.5, 1.0, /*squared=*/false);
  ASSERT_EQ(g.connect.sizes(), torch::IntArrayRef({2 * n, 2 * n}));
  auto vv = v.matmul(v.t()), uu = u.matmul(u.t());
  // Every row of every block keeps exactly floor(0.5 * 6) = 3 neighbours: the
  // three largest of the block's ranking (similarity within a modality,
  // matching value p across).
  auto check_block = [&](const torch::Tensor& a, const torch::Tensor& rank, const char* what) {
    for (int64_t r = 0; r < n; ++r) {
      auto order = std::get<1>(rank[r].sort(0, true));
      for (int64_t j = 0; j < n; ++j)
        EXPECT_EQ(a[r][order[j]].item<bool>(), j < 3) << what << " row " << r << " rank " << j;
    }
  };
  check_block(g.connect.slice(0, 0, n).slice(1, 0, n), vv, "I->I");
  check_block(g.connect.slice(0, 0, n).slice(1, n), p_i2t, "I->T");
  check_block(g.connect.slice(0, n).slice(1, 0, n), p_t2i, "T->I");
  check_block(g.connect.slice(0, n).slice(1, n), uu, "T->T");
  EXPECT_TRUE(g.connect.diagonal().all().item<bool>());  // a node is its own nearest same-modality neighbour
  // Relevance: Gaussian kernel of distances within a modality, learned s across.
  EXPECT_TRUE(torch::allclose(g.relevance.slice(0, 0, n).slice(1, 0, n), torch::exp(-torch::cdist(v, v)), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(g.relevance.slice(0, n).slice(1, 0, n), s_t2i));
  EXPECT_TRUE(torch::allclose(g.relevance.slice(0, 0, n).slice(1, n), s_i2t));
  // Eq. 10 as printed: the squared distance.
  auto squared = hrem::build_graph(v, u, p_i2t, p_t2i, s_i2t, s_t2i, 0.5, 1.0, /*squared=*/true);
  EXPECT_TRUE(
      torch::allclose(squared.relevance.slice(0, n).slice(1, n), torch::exp(-torch::cdist(u, u).pow(2)), 1e-4, 1e-5));
  EXPECT_TRUE(torch::equal(squared.connect, g.connect));
  // The attention bias: lambda * S on edges, -inf off the graph.
  auto bias = g.attention_bias(1.5);
  EXPECT_TRUE(torch::allclose(bias.masked_select(g.connect), 1.5 * g.relevance.masked_select(g.connect)));
  EXPECT_TRUE(bias.masked_select(g.connect.logical_not()).isneginf().all().item<bool>());
  // Tiny batches still keep one neighbour per row.
  EXPECT_EQ(hrem::top_neighbours(torch::randn({1, 1}), 0.5).sum().item<int64_t>(), 1);
}

TEST(Hrem, InstanceModuleTrainsAfterWarmUpAndNeverScores) {
  torch::manual_seed(7);
  Vocab vocab = small_vocab();
  Config cfg = small_config();
  cfg["warmup_steps"] = 10;
  MatcherPtr m = make_matcher("hrem", cfg, vocab);
  ImageBatch imgs = random_images(6);
  CaptionBatch caps = random_captions(6, vocab.size());
  m->on_step(9, 0);
  LossOutput before = m->loss(imgs, caps);
  EXPECT_EQ(before.terms.size(), 1u);
  EXPECT_EQ(before.terms.count("triplet"), 1u);
  m->eval();
  torch::Tensor scores_before;
  {
    torch::NoGradGuard no_grad;
    scores_before = m->score(m->encode_images(imgs), m->encode_captions(caps));
  }
  m->train();
  m->on_step(10, 1);
  LossOutput after = m->loss(imgs, caps);
  for (const char* term : {"triplet", "triplet_enhanced", "triplet_mixed", "relevance_kl"})
    EXPECT_EQ(after.terms.count(term), 1u) << term;
  EXPECT_NEAR(after.terms["triplet"], before.terms["triplet"], 1e-5);
  EXPECT_GT(after.total.item<double>(), before.total.item<double>());
  // Scores are the same past the warm-up, and whatever the instance-level
  // weights are.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : m->named_parameters())
      if (p.key().rfind("fusion.", 0) == 0 || p.key().rfind("mlp_", 0) == 0)
        p.value().add_(torch::randn_like(p.value()));
  }
  m->eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(scores_before, m->score(m->encode_images(imgs), m->encode_captions(caps))));
}

TEST(Hrem, GradientsReachEveryParameter) {
  torch::manual_seed(2);
  Vocab vocab = small_vocab();
  for (const char* interaction : {"fusion", "standalone"}) {
    MatcherPtr m = make_matcher("hrem", small_config(interaction), vocab);
    LossOutput out = m->loss(random_images(8), random_captions(8, vocab.size()));
    ASSERT_GT(out.total.item<double>(), 0);
    out.total.backward();
    for (const auto& p : m->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << interaction << " " << p.key();
      // Standalone: the relevance MLP's output bias shifts whole rows of the
      // cross-attention bias and of Eq. 11's row softmax, which both ignore a
      // row constant, so its gradient is 0 up to rounding.
      const bool row_shift = p.key() == "mlp_i2t.2.bias" || p.key() == "mlp_t2i.2.bias";
      if (std::string(interaction) == "standalone" && row_shift) continue;
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << interaction << " " << p.key();
    }
  }
}

TEST(Hrem, ShortTrainingLowersTheLoss) {
  Vocab vocab = small_vocab();
  for (const char* interaction : {"fusion", "standalone"}) {
    torch::manual_seed(4);
    MatcherPtr m = make_matcher("hrem", small_config(interaction), vocab);
    ImageBatch imgs = random_images(12);
    CaptionBatch caps = random_captions(12, vocab.size());
    const auto [first, last] = sm::testing::adam_steps(*m, imgs, caps, 2e-3, 40);
    EXPECT_LT(last, 0.5 * first) << interaction << ": first " << first << " last " << last;
  }
}

// HREM's fragment-level self-attention and max pooling are not linear in the
// regions, so exchanging two roles moves the image embedding: unlike VSE++'s mean
// (VsePP.ImageEmbeddingCannotTell...), relation swaps are within its reach.
TEST(Hrem, ImageEmbeddingTellsWhichRegionHoldsWhichRole) {
  torch::manual_seed(3);
  MatcherPtr m = make_matcher("hrem", small_config(), small_vocab());
  EXPECT_GT(sm::testing::role_swap_shift(*m, kRegions, kFeatures), 1e-3);
}
