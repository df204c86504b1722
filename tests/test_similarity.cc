#include <gtest/gtest.h>
#include <torch/torch.h>

#include "scenematch/eval/ensemble.h"
#include "scenematch/eval/metrics.h"
#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"
#include "scenematch/models/checkpoint.h"
#include "support/eval_fixture.h"

using namespace sm;
using sm::testing::MeanDotMatcher;
using sm::testing::TempSplit;

namespace {

constexpr int64_t kImages = 7, kRegions = 3, kDim = 4;

std::vector<std::string> make_captions(int64_t images) {
  // Lengths from 1 to 6 words, so encode batches pad to different widths.
  const std::vector<std::string> words = {"dog", "cat", "red", "grass", "runs", "on", "the", "ball"};
  std::vector<std::string> caps;
  for (int64_t c = 0; c < images * 5; ++c) {
    std::string cap;
    for (int64_t w = 0; w <= c % 6; ++w) cap += (w ? " " : "") + words[(c * 3 + w * 5) % words.size()];
    caps.push_back(cap);
  }
  return caps;
}

class Similarity : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    features = torch::randn({kImages, kRegions, kDim});
    captions = make_captions(kImages);
    split = std::make_unique<TempSplit>(features, captions);
    vocab = sm::testing::vocab_of(captions);
    data = load_eval_data(split->dir(), "test", vocab, DataNeeds{});
    model = std::make_shared<MeanDotMatcher>(vocab, kDim);
  }
  const Batcher& batcher() const { return *data->batcher; }

  // The whole matrix from one encode and one score() call.
  torch::Tensor one_shot() {
    torch::NoGradGuard no_grad;
    std::vector<int64_t> images(kImages), caps(captions.size());
    std::iota(images.begin(), images.end(), 0);
    std::iota(caps.begin(), caps.end(), 0);
    return model->score(model->encode_images(batcher().images(images)),
                        model->encode_captions(batcher().captions(caps)));
  }

  torch::Tensor features;
  std::vector<std::string> captions;
  std::unique_ptr<TempSplit> split;
  Vocab vocab;
  std::unique_ptr<EvalData> data;
  std::shared_ptr<MeanDotMatcher> model;
};

SimilarityOptions blocks(int64_t encode, int64_t images, int64_t caps) {
  SimilarityOptions o;
  o.encode_batch = encode;
  o.image_block = images;
  o.caption_block = caps;
  o.progress = false;
  return o;
}

}  // namespace

TEST_F(Similarity, BlocksEqualOneShotAndHandComputedEntries) {
  torch::Tensor sims = similarity_matrix(*model, batcher(), blocks(3, 2, 7));
  ASSERT_EQ(sims.sizes(), (std::vector<int64_t>{kImages, kImages * 5}));
  EXPECT_EQ(sims.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(sims, one_shot(), 1e-5, 1e-6));
  // Entry (2, 13) from the raw data: mean region of image 2 . mean word vector of caption 13.
  auto tokens = tokenize(captions[13]);
  torch::Tensor words = torch::zeros({kDim});
  for (const auto& w : tokens) words += model->embed[vocab.id(w)].detach();
  words /= static_cast<double>(tokens.size());
  double expected = features[2].mean(0).dot(words).item<double>();
  EXPECT_NEAR(sims[2][13].item<double>(), expected, 1e-5);
}

TEST_F(Similarity, OddBlockSizesAgree) {
  torch::Tensor reference = one_shot();
  struct Case {
    int64_t encode, images, caps;
  };
  for (Case c : {Case{1, 1, 1}, Case{4, 5, 3}, Case{100, 100, 1000}, Case{2, 7, 35}, Case{6, 3, 34}}) {
    model->score_calls = 0;
    torch::Tensor sims = similarity_matrix(*model, batcher(), blocks(c.encode, c.images, c.caps));
    EXPECT_TRUE(torch::allclose(sims, reference, 1e-5, 1e-6)) << c.encode << " " << c.images << " " << c.caps;
    // Every block scored once, never the whole matrix per block.
    const int64_t expected_calls = ((kImages + c.images - 1) / c.images) * ((kImages * 5 + c.caps - 1) / c.caps);
    EXPECT_EQ(model->score_calls, expected_calls) << c.images << " " << c.caps;
  }
}

TEST_F(Similarity, InferenceModeLeavesNoGraphAndRestoresMode) {
  model->train();
  // Outside inference mode the encoders record a graph (the check below can fail).
  ASSERT_TRUE(model->encode_images(batcher().images({0, 1})).at("regions").requires_grad());
  model->saw_training = false;

  Encoding images = encode_images(*model, batcher(), {0, 3, 5}, blocks(2, 1, 1));
  EXPECT_EQ(images.size(), 3);
  EXPECT_TRUE(images.at("regions").is_inference());
  EXPECT_FALSE(images.at("regions").requires_grad());
  torch::Tensor sims = similarity_matrix(*model, batcher(), blocks(3, 2, 7));
  EXPECT_FALSE(sims.requires_grad());
  EXPECT_FALSE(sims.is_inference());  // callers may update it in place
  sims += 1;
  EXPECT_FALSE(model->saw_training) << "encoders or score ran in training mode";
  EXPECT_TRUE(model->is_training()) << "training mode not restored";

  model->eval();
  similarity_matrix(*model, batcher(), blocks(3, 2, 7));
  EXPECT_FALSE(model->is_training());
}

TEST_F(Similarity, EncodedSubsetsAndSparseScoring) {
  torch::Tensor reference = one_shot();
  Encoding images = encode_images(*model, batcher(), {6, 2}, blocks(1, 1, 1));
  Encoding caps = encode_captions(*model, batcher(), {0, 34, 11, 12}, blocks(3, 1, 1));
  torch::Tensor sub = similarity_matrix(*model, images, caps, blocks(1, 1, 3));
  EXPECT_NEAR(sub[0][1].item<double>(), reference[6][34].item<double>(), 1e-5);
  EXPECT_NEAR(sub[1][2].item<double>(), reference[2][11].item<double>(), 1e-5);

  model->score_calls = 0;
  auto sparse = score_per_image(*model, images, caps, {{1, 3}, {}});
  EXPECT_EQ(model->score_calls, 1);  // the image with no captions is skipped
  ASSERT_EQ(sparse.size(), 2u);
  ASSERT_EQ(sparse[0].numel(), 2);
  EXPECT_EQ(sparse[1].numel(), 0);
  EXPECT_NEAR(sparse[0][0].item<double>(), reference[6][34].item<double>(), 1e-5);
  EXPECT_NEAR(sparse[0][1].item<double>(), reference[6][12].item<double>(), 1e-5);
  EXPECT_THROW(score_per_image(*model, images, caps, {{0}}), Error);
}

TEST_F(Similarity, RejectsBadBlockSizes) {
  EXPECT_THROW(similarity_matrix(*model, batcher(), blocks(0, 1, 1)), Error);
  EXPECT_THROW(similarity_matrix(*model, batcher(), blocks(1, 0, 1)), Error);
}

TEST_F(Similarity, EnsembleAveragesMembers) {
  auto second = std::make_shared<MeanDotMatcher>(vocab, kDim);  // other random word vectors
  std::vector<ModelData> members;
  members.push_back(attach_data(ModelBundle{"first", Config::object(), vocab, model}, split->dir(), "test"));
  members.push_back(attach_data(ModelBundle{"second", Config::object(), vocab, second}, split->dir(), "test"));
  SimilarityOptions o = blocks(4, 3, 9);
  torch::Tensor a = similarity_matrix(*model, batcher(), o), b = similarity_matrix(*second, batcher(), o);
  ASSERT_FALSE(torch::allclose(a, b));
  EXPECT_TRUE(torch::allclose(ensemble_similarity(members, o), (a + b) / 2, 1e-5, 1e-6));

  // A member that sees another split (fewer images) is refused.
  TempSplit small(features.slice(0, 0, 3), std::vector<std::string>(captions.begin(), captions.begin() + 15), "",
                  "small");
  members.push_back(attach_data(ModelBundle{"third", Config::object(), vocab, second}, small.dir(), "test"));
  try {
    ensemble_similarity(members, o);
    FAIL() << "mismatched ensemble accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("third sees 3"), std::string::npos) << e.what();
  }
}

TEST_F(Similarity, EvalCommandMatchesLibrary) {
  Config cfg = matcher_preset("vsepp", "cpu");
  cfg["feature_dim"] = kDim;
  const std::string ckpt = split->dir() + "/model.ckpt";
  save_checkpoint(ckpt, ModelBundle{"vsepp", cfg, vocab, make_matcher("vsepp", cfg, vocab)});
  ModelData loaded = load_model_data(ckpt, split->dir(), "test", torch::kCPU);
  SimilarityOptions quiet;
  quiet.progress = false;
  RecallMetrics expected = recall_metrics(similarity_matrix(loaded.model(), loaded.batcher(), quiet), 5);

  const std::string base = cat("eval --checkpoint ", ckpt, " --data ", split->dir());
  auto r = sm::testing::run_cli(base + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  Json j = Json::parse(r.out);  // stdout holds the JSON and nothing else
  const Json want = expected.to_json();
  for (const auto& [key, value] : want.items()) EXPECT_NEAR(j.at(key).get<double>(), value.get<double>(), 1e-9) << key;
  EXPECT_EQ(j.at("images").get<int64_t>(), kImages);
  EXPECT_EQ(j.at("protocol").get<std::string>(), "1k");

  // The same checkpoint twice is an ensemble with the same scores.
  auto twice = sm::testing::run_cli(base + " --checkpoint " + ckpt + " --json");
  ASSERT_EQ(twice.status, 0) << twice.err;
  EXPECT_NEAR(Json::parse(twice.out).at("rsum").get<double>(), expected.rsum, 1e-9);
  EXPECT_EQ(Json::parse(twice.out).at("models").get<std::string>(), "vsepp + vsepp");

  auto table = sm::testing::run_cli(base + " --quiet");
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("image-to-text"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("rSum"), std::string::npos) << table.out;

  auto fold = sm::testing::run_cli(base + " --protocol 5fold");
  EXPECT_EQ(fold.status, 1);
  EXPECT_NE(fold.err.find("scenematch eval: error: protocol 5fold needs exactly 5000 images"), std::string::npos)
      << fold.err;
  auto missing = sm::testing::run_cli(cat("eval --checkpoint ", split->dir(), "/none.ckpt --data ", split->dir()));
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("none.ckpt"), std::string::npos) << missing.err;
  EXPECT_TRUE(missing.out.empty());
}
