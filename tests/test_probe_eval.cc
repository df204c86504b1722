#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>

#include "scenematch/core/progress.h"
#include "scenematch/eval/ensemble.h"
#include "scenematch/eval/model_data.h"
#include "scenematch/eval/probe_eval.h"
#include "scenematch/models/checkpoint.h"
#include "scenematch/synth/generator.h"
#include "support/eval_fixture.h"

using namespace sm;
using sm::testing::MeanDotMatcher;
using sm::testing::TempSplit;

namespace {

// Two images of two regions in 3-D: image 0 averages to (1, 0, 0.5), image 1
// to (0, 1, 0.5). Word vectors: red (1,0,0), blue (0,1,0), dog (0,0,1); a
// caption's vector is the mean of its words, its score the dot product.
const char* kProbes =
    // image 0: "red dog" (.5,0,.5) -> .75 beats "blue dog" (0,.5,.5) -> .25: pass
    R"({"image": 0, "positive": "red dog", "negatives": ["blue dog"], "kind": "attribute"})"
    "\n"
    // image 1: "red dog" .25 loses to "blue dog" .75: fail
    R"({"image": 1, "positive": "red dog", "negatives": ["blue dog"], "kind": "attribute"})"
    "\n"
    // image 0: "dog" .5 loses to "red dog" .75 ("blue" scores 0): fail
    R"({"image": 0, "positive": "dog", "negatives": ["red dog", "blue"], "kind": "object"})"
    "\n"
    // image 1: "blue" 1 beats "red" 0 and "dog" .5: pass
    R"({"image": 1, "positive": "blue", "negatives": ["red", "dog"], "kind": "object"})"
    "\n"
    // image 1: word order is invisible to a mean of words: .25 ties .25, a tie fails
    R"({"image": 1, "positive": "red dog", "negatives": ["dog red"], "kind": "order"})"
    "\n";
// Accuracy: attribute 1/2, object 1/2, order 0/1, all 2/5.

class Probes : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    auto features = torch::tensor({{{1.f, 0.f, 0.f}, {1.f, 0.f, 1.f}}, {{0.f, 1.f, 0.f}, {0.f, 1.f, 1.f}}});
    const std::vector<std::string> captions = {"red dog", "blue dog"};
    split = std::make_unique<TempSplit>(features, captions, kProbes);
    vocab = sm::testing::vocab_of(captions);
    model = make_model({1, 0, 0}, {0, 1, 0});
    EvalDataOptions o;
    o.probes = true;
    member = attach_data(ModelBundle{"mean-dot", Config::object(), vocab, model}, split->dir(), "test", o);
  }
  std::shared_ptr<MeanDotMatcher> make_model(std::vector<float> red, std::vector<float> blue) {
    auto m = std::make_shared<MeanDotMatcher>(vocab, 3);
    m->set_word(vocab, "red", red);
    m->set_word(vocab, "blue", blue);
    m->set_word(vocab, "dog", {0, 0, 1});
    return m;
  }
  static SimilarityOptions quiet(int64_t encode_batch) {
    SimilarityOptions o;
    o.encode_batch = encode_batch;
    o.progress = false;
    return o;
  }

  std::unique_ptr<TempSplit> split;
  Vocab vocab;
  std::shared_ptr<MeanDotMatcher> model;
  ModelData member;
};

}  // namespace

TEST_F(Probes, ScoresEachImageOnceAgainstItsOwnCaptions) {
  const auto& probes = member.split().probes;
  ASSERT_EQ(probes.size(), 5u);
  model->score_calls = 0;
  auto scores = probe_scores(*model, member.batcher(), probes, quiet(3));
  EXPECT_EQ(model->score_calls, 2);  // two images, one block each
  ASSERT_EQ(scores.size(), 5u);
  ASSERT_EQ(scores[2].size(), 3u);
  EXPECT_NEAR(scores[0][0], 0.75, 1e-6);
  EXPECT_NEAR(scores[0][1], 0.25, 1e-6);
  EXPECT_NEAR(scores[1][0], 0.25, 1e-6);
  EXPECT_NEAR(scores[2][0], 0.5, 1e-6);
  EXPECT_NEAR(scores[2][1], 0.75, 1e-6);
  EXPECT_NEAR(scores[2][2], 0.0, 1e-6);
  EXPECT_NEAR(scores[3][0], 1.0, 1e-6);
  EXPECT_NEAR(scores[4][0], scores[4][1], 1e-6);
  // Encode batches of any size give the same scores.
  auto again = probe_scores(*model, member.batcher(), probes, quiet(1));
  for (size_t p = 0; p < scores.size(); ++p)
    for (size_t k = 0; k < scores[p].size(); ++k) EXPECT_NEAR(again[p][k], scores[p][k], 1e-6);
}

TEST_F(Probes, AccuracyPerKindStrictlyGreater) {
  const auto& probes = member.split().probes;
  ProbeReport r = probe_accuracy(probes, probe_scores(*model, member.batcher(), probes, quiet(4)));
  ASSERT_EQ(r.kinds.size(), 3u);
  EXPECT_DOUBLE_EQ(r.kinds["attribute"].accuracy, 0.5);
  EXPECT_EQ(r.kinds["attribute"].count, 2);
  EXPECT_DOUBLE_EQ(r.kinds["object"].accuracy, 0.5);
  EXPECT_DOUBLE_EQ(r.kinds["order"].accuracy, 0.0);  // a tie is not a pass
  EXPECT_EQ(r.kinds["order"].count, 1);
  EXPECT_DOUBLE_EQ(r.all.accuracy, 0.4);
  EXPECT_EQ(r.all.count, 5);

  Json j = r.to_json();
  EXPECT_DOUBLE_EQ(j["attribute"]["accuracy"].get<double>(), 0.5);
  EXPECT_EQ(j["all"]["count"].get<int64_t>(), 5);
  EXPECT_DOUBLE_EQ(j["all"]["accuracy"].get<double>(), 0.4);
  std::string table = format_probe_table(r, "toy probes");
  EXPECT_NE(table.find("attribute"), std::string::npos);
  EXPECT_NE(table.find("40.00%"), std::string::npos);

  EXPECT_THROW(probe_accuracy(probes, {{1.f, 0.f}}), Error);
}

TEST(ProbeAccuracy, SubsetsAreReportedBesideTheirKind) {
  std::vector<Probe> probes(4);
  for (auto& p : probes) {
    p.kind = "relation-swap";
    p.negatives = {"n"};
  }
  probes[0].subset = probes[1].subset = "type-valid";
  probes[2].subset = "text-implausible";  // probes[3] has none
  ProbeReport r = probe_accuracy(probes, {{1.f, 0.f}, {0.f, 1.f}, {1.f, 0.f}, {1.f, 0.f}});
  ASSERT_EQ(r.kinds.size(), 3u);
  EXPECT_EQ(r.kinds["relation-swap"].count, 4);
  EXPECT_DOUBLE_EQ(r.kinds["relation-swap"].accuracy, 0.75);
  EXPECT_EQ(r.kinds["relation-swap (type-valid)"].count, 2);
  EXPECT_DOUBLE_EQ(r.kinds["relation-swap (type-valid)"].accuracy, 0.5);
  EXPECT_DOUBLE_EQ(r.kinds["relation-swap (text-implausible)"].accuracy, 1.0);
  EXPECT_EQ(r.all.count, 4);  // each probe counts once in "all"
  EXPECT_DOUBLE_EQ(r.all.accuracy, 0.75);
}

TEST_F(Probes, EnsembleAveragesScores) {
  // The second model swaps red and blue: probe 0 becomes .25 vs .75 for it.
  auto swapped = make_model({0, 1, 0}, {1, 0, 0});
  EvalDataOptions o;
  o.probes = true;
  std::vector<ModelData> members;
  members.push_back(std::move(member));
  members.push_back(attach_data(ModelBundle{"swapped", Config::object(), vocab, swapped}, split->dir(), "test", o));
  const auto& probes = members.front().split().probes;
  auto a = probe_scores(*model, members[0].batcher(), probes, quiet(8));
  auto b = probe_scores(*swapped, members[1].batcher(), probes, quiet(8));
  auto mean = ensemble_probe_scores(members, quiet(8));
  ASSERT_EQ(mean.size(), probes.size());
  for (size_t p = 0; p < mean.size(); ++p)
    for (size_t k = 0; k < mean[p].size(); ++k) EXPECT_NEAR(mean[p][k], (a[p][k] + b[p][k]) / 2, 1e-6);
  EXPECT_NEAR(mean[0][0], 0.5, 1e-6);  // (.75 + .25) / 2
  EXPECT_NEAR(mean[0][1], 0.5, 1e-6);
}

TEST_F(Probes, MissingProbeFileIsAClearError) {
  TempSplit bare(torch::rand({2, 2, 3}), {"red dog", "blue dog"}, "", "bare");
  EvalDataOptions o;
  o.probes = true;
  try {
    load_eval_data(bare.dir(), "test", vocab, DataNeeds{}, o);
    FAIL() << "split without probes accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test_probes.jsonl"), std::string::npos) << e.what();
  }
}

TEST_F(Probes, ProbeCommandMatchesLibrary) {
  Config cfg = matcher_preset("vsepp", "cpu");
  cfg["feature_dim"] = 3;
  const std::string ckpt = split->dir() + "/model.ckpt";
  save_checkpoint(ckpt, ModelBundle{"vsepp", cfg, vocab, make_matcher("vsepp", cfg, vocab)});
  EvalDataOptions o;
  o.probes = true;
  ModelData loaded = load_model_data(ckpt, split->dir(), "test", torch::kCPU, o);
  const auto& probes = loaded.split().probes;
  ProbeReport expected = probe_accuracy(probes, probe_scores(loaded.model(), loaded.batcher(), probes, quiet(16)));

  const std::string base = cat("probe --checkpoint ", ckpt, " --data ", split->dir());
  auto r = sm::testing::run_cli(base + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out), expected.to_json());
  auto table = sm::testing::run_cli(base);
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("attribute"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("order"), std::string::npos) << table.out;

  auto no_probes = sm::testing::run_cli(base + " --split dev");
  EXPECT_EQ(no_probes.status, 1);
  EXPECT_NE(no_probes.err.find("scenematch probe: error:"), std::string::npos) << no_probes.err;
}

TEST_F(Probes, MeanImageAveragesEverySlotOverTheSplit) {
  const ImageBatch blind = mean_image(member.batcher());
  ASSERT_EQ(blind.size(), 1);
  // Slot 0: (1,0,0) and (0,1,0); slot 1: (1,0,1) and (0,1,1).
  EXPECT_TRUE(torch::allclose(blind.features[0], torch::tensor({{.5f, .5f, 0.f}, {.5f, .5f, 1.f}})));
  EXPECT_TRUE(blind.region_mask.all().item<bool>());
}

// Found by SGM's `probe --blind` on the small world: a block of 128 images
// pads its relations to its own most, and image 0 (whose scene graph the
// mean image keeps) may have fewer; the mean's relation features must keep
// image 0's slots, each the mean over the images that have that slot.
TEST(MeanImage, SceneGraphModelsEncodeItWhateverTheBlocksRelationCounts) {
  const sm::testing::TempDir temp("sm_mean_image_vsg");
  Progress::set_enabled(false);
  synth::SynthOptions options = synth::preset_options("tiny");
  options.train = 10;
  options.dev = 10;
  options.test = 271;  // three blocks; in this world the third pads to 3 relations, the others to 4
  const std::string world = temp.path() + "/world";
  synth::generate_dataset(world, options);
  std::vector<std::string> captions;
  std::ifstream caps(world + "/test_caps.txt");
  for (std::string line; std::getline(caps, line);) captions.push_back(line);
  const Vocab vocab = sm::testing::vocab_of(captions);
  Config cfg = matcher_preset("sgm", "cpu");
  cfg["feature_dim"] = options.feat_dim;
  cfg["embed_size"] = 32;
  cfg["word_dim"] = 16;
  ModelData sgm = attach_data(ModelBundle{"sgm", cfg, vocab, make_matcher("sgm", cfg, vocab)}, world, "test");
  const Batcher& b = sgm.batcher();

  // The case: blocks that pad to different counts, image 0 below the most.
  std::vector<int64_t> block_most;
  torch::Tensor sum, count;
  for (int64_t begin = 0; begin < options.test; begin += 128) {
    std::vector<int64_t> ids;
    for (int64_t i = begin; i < std::min<int64_t>(options.test, begin + 128); ++i) ids.push_back(i);
    const ImageBatch batch = b.images(ids);
    block_most.push_back(batch.rel_mask.size(1));
    for (int64_t k = 0; k < batch.size(); ++k)
      for (int64_t r = 0; r < batch.rel_mask.size(1); ++r) {
        if (!batch.rel_mask[k][r].item<bool>()) continue;
        if (!sum.defined()) {
          sum = torch::zeros({synth::kMaxRelations, batch.rel_feature.size(2)});
          count = torch::zeros({synth::kMaxRelations});
        }
        sum[r] += batch.rel_feature[k][r];
        count[r] += 1;
      }
  }
  const int64_t first_count = b.images({0}).rel_mask.size(1);
  ASSERT_NE(*std::min_element(block_most.begin(), block_most.end()),
            *std::max_element(block_most.begin(), block_most.end()))
      << "the world no longer has blocks of different relation counts";
  ASSERT_LT(first_count, *std::max_element(block_most.begin(), block_most.end()));

  const ImageBatch blind = mean_image(b);
  ASSERT_EQ(blind.rel_feature.size(1), first_count);
  EXPECT_EQ(blind.rel_mask.size(1), first_count);
  EXPECT_TRUE(torch::allclose(blind.rel_feature[0], (sum / count.clamp_min(1).unsqueeze(1)).narrow(0, 0, first_count),
                              1e-5, 1e-5));
  const Encoding encoded = encode_image_batch(sgm.model(), blind);
  EXPECT_EQ(encoded.size(), 1);
}

// Blind, every image is the same one: a caption scores the same on all of
// them, so probes 0 and 1 (the same two captions on two images) tie, and a
// model whose score ignores the image scores exactly as it does seeing them.
TEST_F(Probes, BlindScoresAreTheTextOnlyPrior) {
  const auto& probes = member.split().probes;
  const auto blind = probe_scores(*model, member.batcher(), probes, quiet(2), 0, /*blind=*/true);
  ASSERT_EQ(blind.size(), probes.size());
  EXPECT_EQ(blind[0], blind[1]);
  EXPECT_FLOAT_EQ(blind[0][0], blind[0][1]);  // mean image (.5,.5,.5): red dog and blue dog alike
  ProbeReport report = probe_accuracy(probes, probe_scores(*model, member.batcher(), probes, quiet(2)));
  add_blind(report, probe_accuracy(probes, blind));
  EXPECT_DOUBLE_EQ(report.kinds["attribute"].accuracy, 0.5);
  EXPECT_DOUBLE_EQ(*report.kinds["attribute"].blind, 0.0);  // ties, never a pass
  EXPECT_DOUBLE_EQ(report.to_json()["attribute"]["blind_accuracy"].get<double>(), 0.0);
  EXPECT_NE(format_probe_table(report, "blind").find("blind"), std::string::npos);

  // Image features scaled to zero: the score ignores the image; every probe ties, seen or blind.
  {
    torch::NoGradGuard no_grad;
    model->scale.zero_();
  }
  const auto seen = probe_scores(*model, member.batcher(), probes, quiet(2));
  EXPECT_EQ(probe_scores(*model, member.batcher(), probes, quiet(2), 0, true), seen);
  for (const auto& row : seen)
    for (float s : row) EXPECT_EQ(s, row[0]);
  EXPECT_DOUBLE_EQ(probe_accuracy(probes, seen).all.accuracy, 0.0);
}

TEST_F(Probes, ProbeCommandBlindColumn) {
  Config cfg = matcher_preset("vsepp", "cpu");
  cfg["feature_dim"] = 3;
  const std::string ckpt = split->dir() + "/blind.ckpt";
  save_checkpoint(ckpt, ModelBundle{"vsepp", cfg, vocab, make_matcher("vsepp", cfg, vocab)});
  auto r = sm::testing::run_cli(cat("probe --blind --json --checkpoint ", ckpt, " --data ", split->dir()));
  ASSERT_EQ(r.status, 0) << r.err;
  const Json j = Json::parse(r.out);
  for (const char* kind : {"attribute", "object", "order", "all"})
    EXPECT_TRUE(j[kind].contains("blind_accuracy")) << kind;
}

// Words a model never saw are named, commonest first, with their share of the
// split's tokens; a split the vocabulary covers gets no notice.
TEST(UnknownWords, NoticeNamesTheFileTheShareAndTheCommonestWords) {
  const Vocab vocab = Vocab::build({{"a", "dog", "on", "grass"}}, 1);
  auto graph = [](std::vector<std::string> tokens) {
    CaptionGraph g;
    g.tokens = std::move(tokens);
    return g;
  };
  const std::vector<CaptionGraph> known = {graph({"a", "dog", "on", "grass"})};
  EXPECT_EQ(unknown_word_notice(vocab, known, "dev_caps.txt"), "");
  const std::vector<CaptionGraph> graphs = {graph({"a", "pair", "of", "dogs"}), graph({"a", "pair", "of", "cats"}),
                                            graph({"a", "dog", "on", "grass"}), graph({"a", "pair", "."})};
  const std::string notice = unknown_word_notice(vocab, graphs, "test_caps.txt", 2);
  EXPECT_EQ(notice,
            "test_caps.txt: 8 of 15 caption tokens (53.33%, 5 distinct words) are not in the model's vocabulary and "
            "are read as <unk>; most often: 'pair' (3), 'of' (2)");
}
