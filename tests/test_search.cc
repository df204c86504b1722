// Retrieval indexes: round trip, refusal of a mismatched checkpoint, two-stage
// search against exhaustive scoring for every registered model. Models are
// freshly initialised: only the plumbing is under test, not their accuracy.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/progress.h"
#include "scenematch/core/runtime.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"
#include "scenematch/search/index.h"
#include "scenematch/synth/generator.h"
#include "scenematch/train/run.h"
#include "support/temp_dir.h"

using namespace sm;
namespace fs = std::filesystem;

namespace {

class SearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = std::make_unique<sm::testing::TempDir>("sm_test_search");
    root_ = temp_->path();
    Progress::set_enabled(false);
    set_threads(1);
    synth::SynthOptions options = synth::preset_options("tiny");
    options.test = 20;  // small gallery: 20 images, 100 captions
    options.seed = 3;
    synth::generate_dataset(world(), options);
  }
  static void TearDownTestSuite() { temp_.reset(); }

  static std::string world() { return root_ + "/world"; }

  // A fresh model of `name` saved as a checkpoint; `seed` changes its weights.
  static std::string checkpoint(const std::string& name, uint64_t seed = 0) {
    const std::string path = cat(root_, "/", name, "_", seed, ".ckpt");
    if (fs::exists(path)) return path;
    ModelBundle bundle;
    bundle.name = name;
    bundle.config = matcher_preset(name, "cpu");
    bundle.config["feature_dim"] = 64;
    bundle.vocab = dataset_vocab(world(), 1);
    torch::manual_seed(seed);
    bundle.model = make_matcher(name, bundle.config, bundle.vocab);
    save_checkpoint(path, bundle);
    return path;
  }

  static IndexOptions options(const std::string& name, const std::string& out, uint64_t seed = 0) {
    IndexOptions o;
    o.checkpoint = checkpoint(name, seed);
    o.data = world();
    o.split = "test";
    o.out = root_ + "/" + out;
    o.threads = 1;
    return o;
  }

  static std::unique_ptr<sm::testing::TempDir> temp_;  // holds root_
  static std::string root_;
};
std::unique_ptr<sm::testing::TempDir> SearchTest::temp_;
std::string SearchTest::root_;

std::vector<int64_t> ids_of(const SearchResult& r) {
  std::vector<int64_t> ids;
  for (const auto& h : r.hits) ids.push_back(h.id);
  return ids;
}

}  // namespace

TEST_F(SearchTest, RoundTripMatchesTheModelScoringDirectly) {
  const IndexOptions o = options("vsepp", "vsepp_idx");
  const Json manifest = build_index(o);
  EXPECT_EQ(manifest["checkpoint"]["hash"], file_hash_hex(o.checkpoint));
  EXPECT_EQ(manifest["images"]["count"], 20);
  EXPECT_EQ(manifest["captions"]["count"], 100);
  EXPECT_EQ(manifest["factory"], "Flat");
  EXPECT_TRUE(fs::exists(o.out + "/images.faiss"));
  // No leftovers of the atomic build.
  for (const auto& entry : fs::directory_iterator(fs::path(o.out).parent_path()))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();

  auto index = SearchIndex::open(o.out);
  EXPECT_FALSE(index->two_stage());
  SearchOptions so;
  so.k = 5;
  const std::string query = index->split().captions[7];
  const SearchResult r = index->search_text(query, so);
  EXPECT_EQ(r.mode, "embedding");
  ASSERT_EQ(r.hits.size(), 5u);

  // The same ranking computed straight from the model.
  ModelData md = load_model_data(o.checkpoint, o.data, "test", torch::kCPU);
  md.model().eval();
  torch::NoGradGuard no_grad;
  std::vector<int64_t> all(20);
  std::iota(all.begin(), all.end(), 0);
  SimilarityOptions quiet;
  quiet.progress = false;
  const Encoding images = encode_images(md.model(), md.batcher(), all, quiet);
  const CaptionGraph g = tokens_only(query);
  const Encoding caption = encode_caption_graphs(md.model(), md.batcher(), {&g}, quiet);
  const torch::Tensor scores = md.model().score(images, caption).select(1, 0);
  auto [top, idx] = scores.topk(5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(r.hits[i].id, idx[i].item<int64_t>());
    EXPECT_NEAR(r.hits[i].score, top[i].item<float>(), 1e-4);
  }

  // Image-to-text returns captions, best first.
  const SearchResult by_image = index->search_image(3, so);
  ASSERT_EQ(by_image.hits.size(), 5u);
  for (size_t i = 1; i < by_image.hits.size(); ++i) EXPECT_GE(by_image.hits[i - 1].score, by_image.hits[i].score);
  EXPECT_THROW(index->search_image(20, so), Error);
  EXPECT_THROW(index->search_text("  ", so), Error);

  // Rebuilding over an existing index replaces it.
  IndexOptions images_only = o;
  images_only.captions = false;
  build_index(images_only);
  auto rebuilt = SearchIndex::open(o.out);
  EXPECT_FALSE(rebuilt->has_captions());
  EXPECT_THROW(rebuilt->search_image(0, so), Error);
}

TEST_F(SearchTest, RefusesAMismatchedCheckpoint) {
  const IndexOptions o = options("vsepp", "mismatch_idx");
  build_index(o);
  const std::string other = checkpoint("vsepp", 1);
  try {
    SearchIndex::open(o.out, other);
    FAIL() << "opened an index with another checkpoint";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file_hash_hex(o.checkpoint)), std::string::npos) << message;
    EXPECT_NE(message.find(file_hash_hex(other)), std::string::npos) << message;
    EXPECT_NE(message.find("rebuild"), std::string::npos) << message;
  }
  // The checkpoint the index names, overwritten by retraining.
  const std::string copy = root_ + "/moved.ckpt";
  fs::copy_file(o.checkpoint, copy, fs::copy_options::overwrite_existing);
  IndexOptions moved = o;
  moved.checkpoint = copy;
  build_index(moved);
  EXPECT_NO_THROW(SearchIndex::open(o.out));
  fs::copy_file(other, copy, fs::copy_options::overwrite_existing);
  EXPECT_THROW(SearchIndex::open(o.out), Error);

  // Not an index at all, and a folder an index must not overwrite.
  fs::create_directories(root_ + "/not_an_index");
  write_file_atomic(root_ + "/not_an_index/notes.txt", "keep me");
  EXPECT_THROW(SearchIndex::open(root_ + "/not_an_index"), Error);
  IndexOptions clobber = o;
  clobber.out = root_ + "/not_an_index";
  EXPECT_THROW(build_index(clobber), Error);
  EXPECT_TRUE(fs::exists(root_ + "/not_an_index/notes.txt"));
}

TEST_F(SearchTest, FactoryStrings) {
  IndexOptions o = options("vsepp", "ivf_idx");
  o.factory = "IVF2,Flat";
  EXPECT_EQ(build_index(o)["factory"], "IVF2,Flat");
  SearchOptions so;
  so.k = 3;
  EXPECT_LE(SearchIndex::open(o.out)->search_text("a dog chasing a cat", so).hits.size(), 3u);
  o.factory = "NoSuchIndex";
  o.out = root_ + "/bad_idx";
  EXPECT_THROW(build_index(o), Error);
  EXPECT_FALSE(fs::exists(o.out));
}

// With every item a candidate the second stage must reproduce exhaustive
// scoring exactly; with few candidates it scores only those.
TEST_F(SearchTest, TwoStageEqualsExhaustiveWithAllCandidatesForEveryModel) {
  for (const std::string& name : matcher_names()) {
    SCOPED_TRACE(name);
    const IndexOptions o = options(name, name + "_idx");
    build_index(o);
    auto index = SearchIndex::open(o.out);
    SearchOptions exhaustive, all, few;
    exhaustive.k = all.k = few.k = 5;
    exhaustive.exhaustive = true;
    all.candidates = 20;
    few.candidates = 6;
    const std::string text = index->split().captions[11];
    const SearchResult e = index->search_text(text, exhaustive);
    const SearchResult a = index->search_text(text, all);
    EXPECT_EQ(ids_of(e), ids_of(a));
    for (size_t i = 0; i < e.hits.size(); ++i) EXPECT_NEAR(e.hits[i].score, a.hits[i].score, 1e-4);
    EXPECT_EQ(e.mode, "exhaustive");
    if (index->two_stage()) {
      EXPECT_EQ(a.mode, "two-stage");
      EXPECT_EQ(index->search_text(text, few).candidates, 6);
    }
    const SearchResult ei = index->search_image(4, exhaustive);
    all.candidates = 100;
    EXPECT_EQ(ids_of(ei), ids_of(index->search_image(4, all)));
  }
}

TEST_F(SearchTest, EvaluationWithAllCandidatesMatchesExhaustive) {
  const IndexOptions o = options("sgm", "sgm_eval_idx");
  build_index(o);
  auto index = SearchIndex::open(o.out);
  ASSERT_TRUE(index->two_stage());
  const Json all = index->evaluate_two_stage(100, 3);
  for (const char* key : {"t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r5", "i2t_r10"})
    EXPECT_DOUBLE_EQ(all["two_stage"][key].get<double>(), all["exhaustive"][key].get<double>()) << key;
  // One candidate: text-to-image R@10 can be no better than R@1 of the first stage alone.
  const Json one = index->evaluate_two_stage(1, 3);
  EXPECT_DOUBLE_EQ(one["two_stage"]["t2i_r10"].get<double>(), one["two_stage"]["t2i_r1"].get<double>());
  EXPECT_GT(one["ms_per_query"]["t2i_exhaustive"].get<double>(), 0);
}
