#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/config.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/data/vocab.h"
#include "scenematch/eval/throughput.h"
#include "scenematch/models/encoding.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/losses.h"
#include "scenematch/models/matcher.h"
#include "scenematch/models/presets.h"
#include "support/temp_dir.h"

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

// Found by fuzz_vocab: a word that is not a string escaped as a JSON type error.
TEST(Vocab, LoadNamesTheFileAndAWordThatIsNotAString) {
  sm::testing::TempDir dir("sm_test_vocab");
  const std::string path = dir.path() + "/vocab.json";
  write_file_atomic(path, R"({"words": ["<pad>", "<unk>", 12, "dog"]})");
  try {
    Vocab::load(path);
    FAIL() << "a number in 'words' was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("words[2]"), std::string::npos) << e.what();
  }
  write_file_atomic(path, R"({"words": ["<pad>", "<unk>"], "format": 1})");
  EXPECT_NO_THROW(Vocab::load(path));
}

// A process killed mid-write leaves PATH.tmp.<pid>; the next write of PATH
// removes it, but keeps one whose writer still runs and leaves other names be.
TEST(AtomicFile, NextWriteRemovesTheTemporaryOfADeadWriter) {
  sm::testing::TempDir dir("sm_test_atomic");
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const std::string path = dir.path() + "/last.ckpt";
  const std::vector<std::string> left = {path + ".tmp." + std::to_string(dead),
                                         path + ".tmp." + std::to_string(::getppid()), path + ".tmp.notapid",
                                         dir.path() + "/best.ckpt.tmp." + std::to_string(dead)};
  for (const auto& file : left) std::ofstream(file) << "half-written";
  write_file_atomic(path, "whole");
  EXPECT_FALSE(std::filesystem::exists(left[0])) << "the dead writer's temporary stayed";
  EXPECT_TRUE(std::filesystem::exists(left[1])) << "a live writer's temporary was removed";
  EXPECT_TRUE(std::filesystem::exists(left[2]));
  EXPECT_TRUE(std::filesystem::exists(left[3])) << "another file's temporary was removed";
  EXPECT_EQ(read_file(path), "whole");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));
}

TEST(TripletLoss, PicksHardestNegative) {
  // Positives on the diagonal; row 0's hardest caption negative is column 2 (0.7).
  auto s = torch::tensor({{0.9, 0.1, 0.7}, {0.2, 0.8, 0.3}, {0.6, 0.4, 0.5}});
  double m = 0.2;
  // Rows (image i, hardest caption): 0: max(0.1,0.7)->0.7-0.9+0.2=0; 1: 0.3-0.8+0.2<0; 2: 0.6-0.5+0.2=0.3
  // Cols (caption j, hardest image): 0: 0.6-0.9+0.2<0; 1: 0.4-0.8+0.2<0; 2: 0.7-0.5+0.2=0.4
  auto diagonal = torch::eye(3, torch::kBool);
  EXPECT_NEAR(triplet_loss(s, diagonal, m, true).item<double>(), 0.7, 1e-6);
  // Sum variant: row terms 0+0+(0.3 + 0.1) ; col terms 0+0+(0.4 + 0.0)... computed in full:
  double sum = 0;
  auto a = s.accessor<float, 2>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (i != j) sum += std::max(0.0, m + a[i][j] - a[i][i]) + std::max(0.0, m + a[i][j] - a[j][j]);
  EXPECT_NEAR(triplet_loss(s, diagonal, m, false).item<double>(), sum, 1e-6);
}

TEST(TripletLoss, GradientsFlowToHardestPairs) {
  auto s = torch::tensor({{0.9, 0.1, 0.7}, {0.2, 0.8, 0.3}, {0.6, 0.4, 0.5}}).requires_grad_();
  triplet_loss(s, torch::eye(3, torch::kBool), 0.2, true).backward();
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
  auto positives = positive_pairs(ids, 3, torch::kCPU);
  EXPECT_TRUE(positives[0][1].item<bool>());
  EXPECT_TRUE(positives[0][0].item<bool>());
  EXPECT_FALSE(positives[0][2].item<bool>());
  EXPECT_NEAR(triplet_loss(s, torch::eye(3, torch::kBool), 0.2, true).item<double>(), 0.8, 1e-6);
  EXPECT_NEAR(triplet_loss(s, positives, 0.2, true).item<double>(), 0.0, 1e-6);
  EXPECT_THROW(positive_pairs(ids, 4, torch::kCPU), Error);  // a count mismatch is never silently unmasked
}

TEST(TripletLoss, MasksCostsSoAnyScoreRangeWorks) {
  // Unbounded scores (GSMN's MLP head): rows 0 and 1 are captions of one image
  // and score -5 against each other, below any sentinel a score mask would use.
  // Image anchors (rows), cost = max(0, 0.5 + s[i][j] - s[i][i]):
  //   row 0: j=2 -> 0.5 + 7 - 10 = 0 (clamped); row 1: j=2 -> 0.5 + 3 - 4 = 0 (clamped)
  //   row 2: j=0 -> 0.5 - 20 - (-30) = 10.5, j=1 -> 0.5 + 8 + 30 = 38.5
  // Caption anchors (columns), cost = max(0, 0.5 + s[i][j] - s[j][j]):
  //   col 0: i=2 -> 0.5 - 20 - 10 < 0; col 1: i=2 -> 0.5 + 8 - 4 = 4.5
  //   col 2: i=0 -> 0.5 + 7 + 30 = 37.5, i=1 -> 0.5 + 3 + 30 = 33.5
  auto s = torch::tensor({{10.0, -5.0, 7.0}, {-5.0, 4.0, 3.0}, {-20.0, 8.0, -30.0}}, torch::kDouble);
  auto positives = positive_pairs({1, 1, 2}, 3, torch::kCPU);
  EXPECT_NEAR(triplet_loss(s, positives, 0.5, true).item<double>(), 38.5 + 4.5 + 37.5, 1e-12);
  EXPECT_NEAR(triplet_loss(s, positives, 0.5, false).item<double>(), 10.5 + 38.5 + 4.5 + 37.5 + 33.5, 1e-12);
  // The same-image pairs (-5) violate no margin here, so masking only the diagonal gives the same sum ...
  auto diagonal = torch::eye(3, torch::kBool);
  const double unmasked = triplet_loss(s, diagonal, 0.5, false).item<double>();
  EXPECT_NEAR(unmasked, 10.5 + 38.5 + 4.5 + 37.5 + 33.5, 1e-12);
  // ... but when they score far above their matched pairs, only the positives mask keeps them out: a sentinel
  // score (the old -2) would still sit above a positive of -30.
  auto high = s.clone();
  high[0][1] = 20.0;
  high[1][0] = 20.0;
  EXPECT_NEAR(triplet_loss(high, positives, 0.5, false).item<double>(), 10.5 + 38.5 + 4.5 + 37.5 + 33.5, 1e-12);
  EXPECT_GT(triplet_loss(high, diagonal, 0.5, false).item<double>(), unmasked + 10);
}

TEST(Config, SetOnlyKnownKeys) {
  Config cfg = {{"lr", 2e-4}, {"graph", "dense"}, {"epochs", 30}};
  apply_overrides(cfg, {"lr=0.001", "graph=sparse", "epochs=4"});
  EXPECT_DOUBLE_EQ(cfg["lr"].get<double>(), 0.001);
  EXPECT_EQ(cfg["graph"], "sparse");
  EXPECT_EQ(cfg["epochs"], 4);
  try {
    apply_overrides(cfg, {"epoch=5"});
    FAIL() << "a key the configuration lacks was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("unknown key 'epoch'"), std::string::npos) << m;
    EXPECT_NE(m.find("epochs"), std::string::npos) << m;  // names the known keys
  }
  EXPECT_THROW(apply_overrides(cfg, {"=3"}), Error);
  EXPECT_THROW(apply_overrides(cfg, {"lr"}), Error);
}

TEST(Config, ChoiceKeysNameEveryChoice) {
  Config cfg = {{"graph", "dense"}, {"bad", "tree"}, {"number", 3}};
  EXPECT_EQ(cfg_choice(cfg, "graph", {"sparse", "dense"}), "dense");
  try {
    cfg_choice(cfg, "bad", {"sparse", "dense"});
    FAIL() << "a value outside the choices was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "config: key 'bad' is \"tree\"; choose one of \"sparse\", \"dense\"");
  }
  EXPECT_THROW(cfg_choice(cfg, "number", {"a"}), Error);   // wrong type
  EXPECT_THROW(cfg_choice(cfg, "missing", {"a"}), Error);  // missing key
}

// Every registered model, built from each preset at small feature sizes: the
// presets hold every key the model reads (construction reads them without
// fallbacks), the registry declares the scoring FLOPs, and global_embedding()
// gives unit first-stage vectors whose dot product is the score exactly when
// embedding_scores() says so.
TEST(Registry, EveryModelDefinesItsPresetsFlopsAndFirstStage) {
  BenchShapes shapes;
  shapes.regions = 5;
  shapes.features = 12;
  shapes.words = 6;
  shapes.objects = 3;
  shapes.relations = 3;
  shapes.triplets = 2;
  shapes.vocab = 40;
  const Vocab vocab = synthetic_vocab(shapes.vocab);
  ASSERT_GE(matcher_names().size(), 6u);
  for (const auto& name : matcher_names()) {
    SCOPED_TRACE(name);
    EXPECT_THROW(matcher_preset(name, "no-such-preset"), Error);
    // Every shared preset name either gives this model's config or is refused
    // by name (a model without an authors' release has no "release").
    for (const auto& preset : preset_names()) {
      try {
        EXPECT_EQ(matcher_preset(name, preset)["preset"], preset);
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("has no preset '" + preset + "'"), std::string::npos) << e.what();
      }
    }
    for (const char* preset : {"paper", "cpu"}) {
      SCOPED_TRACE(preset);
      Config cfg = matcher_preset(name, preset);
      EXPECT_EQ(cfg["model"], name);
      ASSERT_TRUE(cfg.contains("feature_dim"));
      PairShape pair;
      EXPECT_GT(matcher_info(name).score_flops(cfg, pair), 0);
    }
    torch::manual_seed(3);
    Config cfg = matcher_preset(name, "cpu");
    cfg["feature_dim"] = shapes.features;
    MatcherPtr m = make_matcher(name, cfg, vocab);
    m->eval();
    torch::NoGradGuard no_grad;
    Encoding images = m->encode_images(random_images(m->needs(), shapes, 3));
    Encoding captions = m->encode_captions(random_captions(m->needs(), shapes, 4));
    torch::Tensor gi = m->global_embedding(images, true), gc = m->global_embedding(captions, false);
    ASSERT_EQ(gi.dim(), 2);
    EXPECT_EQ(gi.size(0), 3);
    EXPECT_EQ(gc.size(0), 4);
    EXPECT_EQ(gi.size(1), gc.size(1));
    EXPECT_TRUE(torch::allclose(gi.norm(2, 1), torch::ones({3}), 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(gc.norm(2, 1), torch::ones({4}), 1e-4, 1e-5));
    const bool dot_is_score = torch::allclose(gi.matmul(gc.t()), m->score(images, captions), 1e-4, 1e-5);
    EXPECT_EQ(dot_is_score, m->embedding_scores());
  }
}
