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
#include "scenematch/eval/metrics.h"
#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"
#include "scenematch/search/cascade.h"
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
  const Json r = index->evaluate_two_stage({100, 1}, SearchOptions(), 3);
  ASSERT_EQ(r["two_stage"].size(), 2u);
  const Json& all = r["two_stage"][0];
  EXPECT_EQ(all["candidates"], 100);
  for (const char* direction : {"t2i", "i2t"}) {
    SCOPED_TRACE(direction);
    for (const char* key : {"r1", "r5", "r10"})
      EXPECT_DOUBLE_EQ(all[direction][key].get<double>(), r["exhaustive"][direction][key].get<double>()) << key;
    EXPECT_DOUBLE_EQ(all[direction]["candidate_recall"].get<double>(), 100.0);
  }
  // Every item scored by the full model once per query, and no more.
  EXPECT_DOUBLE_EQ(all["t2i"]["pair_scorings"].get<double>(), 20);
  EXPECT_DOUBLE_EQ(all["i2t"]["pair_scorings"].get<double>(), 100);
  EXPECT_EQ(r["exhaustive"]["t2i"]["pair_scorings"], 20);
  // One candidate: a text query's R@10 is whether its image is that candidate.
  const Json& one = r["two_stage"][1];
  EXPECT_DOUBLE_EQ(one["t2i"]["r10"].get<double>(), one["t2i"]["r1"].get<double>());
  EXPECT_DOUBLE_EQ(one["t2i"]["r10"].get<double>(), one["t2i"]["candidate_recall"].get<double>());
  EXPECT_DOUBLE_EQ(one["t2i"]["pair_scorings"].get<double>(), 1);
  EXPECT_GT(r["exhaustive"]["t2i"]["ms_per_query"].get<double>(), 0);
  EXPECT_THROW(index->evaluate_two_stage({0}, SearchOptions(), 1), Error);

  // Sampled queries: 20 of the 100 captions, and all 20 images (the sample
  // covers them), scored through the sampled path. Image queries then give
  // the unsampled figures exactly; every candidate still equals exhaustive.
  const Json sampled = index->evaluate_two_stage({100}, SearchOptions(), 1, 20);
  EXPECT_EQ(sampled["t2i_queries"], 20);
  EXPECT_EQ(sampled["i2t_queries"], 20);
  EXPECT_EQ(r["t2i_queries"], 100);
  for (const char* key : {"r1", "r5", "r10"}) {
    EXPECT_DOUBLE_EQ(sampled["exhaustive"]["i2t"][key].get<double>(), r["exhaustive"]["i2t"][key].get<double>()) << key;
    for (const char* direction : {"t2i", "i2t"})
      EXPECT_DOUBLE_EQ(sampled["two_stage"][0][direction][key].get<double>(),
                       sampled["exhaustive"][direction][key].get<double>())
          << direction << " " << key;
  }
  EXPECT_THROW(index->evaluate_two_stage({10}, SearchOptions(), 1, -1), Error);
}

// Hand-made: 1 query over 12 items whose ground truth is item 11, the full
// model's favourite. The first stage decides whether it can be found at all.
TEST(CascadeRecall, AGroundTruthOutsideTheCandidatesIsAMiss) {
  torch::Tensor scores = torch::arange(12, torch::kFloat).unsqueeze(0);  // item 11 scores highest
  const std::vector<std::vector<int64_t>> truth = {{11}};
  // Exhaustive (all 12 candidates): rank 1.
  CascadeRecall all = cascade_recall(torch::arange(12, torch::kLong).unsqueeze(0), scores, truth);
  EXPECT_DOUBLE_EQ(all.candidate_recall, 100);
  EXPECT_DOUBLE_EQ(all.r1, 100);
  EXPECT_DOUBLE_EQ(all.pair_scorings, 12);
  // Two candidates that exclude it: a miss at R@1, R@5 and R@10 although
  // fewer than 10 items were scored.
  CascadeRecall missed = cascade_recall(torch::tensor({{3, 7}}, torch::kLong), scores, truth);
  EXPECT_DOUBLE_EQ(missed.candidate_recall, 0);
  EXPECT_DOUBLE_EQ(missed.r1, 0);
  EXPECT_DOUBLE_EQ(missed.r5, 0);
  EXPECT_DOUBLE_EQ(missed.r10, 0);
  EXPECT_DOUBLE_EQ(missed.pair_scorings, 2);
  // Padding (-1) is neither scored nor a hit.
  CascadeRecall padded = cascade_recall(torch::tensor({{3, -1, -1}}, torch::kLong), scores, truth);
  EXPECT_DOUBLE_EQ(padded.r10, 0);
  EXPECT_DOUBLE_EQ(padded.pair_scorings, 1);
  // Found among six candidates, behind five that the full model likes more
  // than the ground truth: R@5 misses, R@10 hits.
  scores[0][11] = 4.5;  // above items 0..4, below 5..10
  CascadeRecall sixth = cascade_recall(torch::tensor({{0, 5, 6, 7, 8, 9, 11}}, torch::kLong), scores, truth);
  EXPECT_DOUBLE_EQ(sixth.candidate_recall, 100);
  EXPECT_DOUBLE_EQ(sixth.r5, 0);
  EXPECT_DOUBLE_EQ(sixth.r10, 100);
  // Two queries, one found and one missed: 50%.
  CascadeRecall half =
      cascade_recall(torch::tensor({{11}, {0}}, torch::kLong), torch::cat({scores, scores}), {{11}, {11}});
  EXPECT_DOUBLE_EQ(half.candidate_recall, 50);
  EXPECT_DOUBLE_EQ(half.r1, 50);
  EXPECT_THROW(cascade_recall(torch::tensor({{12}}, torch::kLong), scores, truth), Error);
}

// With no candidates given, every item is one: the evaluation protocol's
// recall (recall_metrics) on the same matrix, both ways.
TEST(CascadeRecall, NoCandidatesIsExhaustiveRecall) {
  torch::manual_seed(3);
  const torch::Tensor sims = torch::randn({6, 30});  // 6 images x 5 captions each
  const RecallMetrics m = recall_metrics(sims, 5);
  const CascadeRecall i2t = cascade_recall({}, sims, image_queries_truth(6, 5));
  const CascadeRecall t2i = cascade_recall({}, sims.t().contiguous(), caption_queries_truth(6, 5));
  EXPECT_DOUBLE_EQ(i2t.r1, m.i2t_r1);
  EXPECT_DOUBLE_EQ(i2t.r5, m.i2t_r5);
  EXPECT_DOUBLE_EQ(t2i.r1, m.t2i_r1);
  EXPECT_DOUBLE_EQ(t2i.r5, m.t2i_r5);
  EXPECT_DOUBLE_EQ(i2t.candidate_recall, 100);
  EXPECT_DOUBLE_EQ(t2i.pair_scorings, 6);
  EXPECT_THROW(cascade_recall({}, torch::zeros({3}), {{0}, {0}, {0}}), Error);
}

TEST(CascadeRecall, EvenlySpacedQueries) {
  EXPECT_EQ(evenly_spaced_ids(10, 3), (std::vector<int64_t>{0, 3, 6}));
  EXPECT_EQ(evenly_spaced_ids(4, 0), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(evenly_spaced_ids(4, 9), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(CascadeRecall, GroundTruthOfBothDirections) {
  EXPECT_EQ(image_queries_truth(2, 3), (std::vector<std::vector<int64_t>>{{0, 1, 2}, {3, 4, 5}}));
  EXPECT_EQ(caption_queries_truth(2, 2), (std::vector<std::vector<int64_t>>{{0}, {0}, {1}, {1}}));
}

// IVF and HNSW first stages: the parameters recorded at build time, their
// round trip through the folder, per-search overrides and their validation.
TEST_F(SearchTest, IvfAndHnswRoundTripWithTheirParameters) {
  IndexOptions flat = options("vsepp", "ann_flat_idx");
  build_index(flat);
  auto exact = SearchIndex::open(flat.out);
  SearchOptions so;
  so.k = 5;
  const std::string text = exact->split().captions[9];
  const SearchResult want_text = exact->search_text(text, so);
  const SearchResult want_image = exact->search_image(2, so);

  IndexOptions ivf = options("vsepp", "ann_ivf_idx");
  ivf.factory = "IVF4,Flat";
  ivf.ann.nprobe = 4;  // every list: exact
  EXPECT_EQ(build_index(ivf)["search_params"], Json({{"nprobe", 4}}));
  auto ivf_index = SearchIndex::open(ivf.out);
  EXPECT_EQ(ivf_index->manifest()["search_params"]["nprobe"], 4);
  EXPECT_EQ(ivf_index->search_params(so), Json({{"nprobe", 4}}));
  EXPECT_EQ(ids_of(ivf_index->search_text(text, so)), ids_of(want_text));
  EXPECT_EQ(ids_of(ivf_index->search_image(2, so)), ids_of(want_image));
  SearchOptions one_list = so;
  one_list.ann.nprobe = 1;
  EXPECT_EQ(ivf_index->search_params(one_list), Json({{"nprobe", 1}}));
  EXPECT_LE(ivf_index->search_text(text, one_list).hits.size(), 5u);
  SearchOptions too_many = so, hnsw_only = so;
  too_many.ann.nprobe = 5;
  hnsw_only.ann.ef_search = 8;
  EXPECT_THROW(ivf_index->search_text(text, too_many), Error);
  EXPECT_THROW(ivf_index->search_image(2, hnsw_only), Error);

  IndexOptions hnsw = options("vsepp", "ann_hnsw_idx");
  hnsw.factory = "HNSW8";
  hnsw.ann.ef_search = 64;  // more than the 100 captions' graph needs to be exact here
  EXPECT_EQ(build_index(hnsw)["search_params"], Json({{"efSearch", 64}}));
  auto hnsw_index = SearchIndex::open(hnsw.out);
  EXPECT_EQ(hnsw_index->search_params(so), Json({{"efSearch", 64}}));
  EXPECT_EQ(ids_of(hnsw_index->search_text(text, so)), ids_of(want_text));
  SearchOptions ivf_only = so;
  ivf_only.ann.nprobe = 2;
  EXPECT_THROW(hnsw_index->search_text(text, ivf_only), Error);

  // Compact storage: float16 and product-quantised codes build and answer.
  for (const std::string factory : {"IVF2,SQfp16", "HNSW8,SQfp16"}) {
    IndexOptions compact = options("vsepp", "ann_compact_idx");
    compact.factory = factory;
    build_index(compact);
    EXPECT_EQ(SearchIndex::open(compact.out)->search_text(text, so).hits.size(), 5u) << factory;
  }
  // A parameter the factory has no use for is refused at build time.
  IndexOptions wrong = options("vsepp", "ann_wrong_idx");
  wrong.ann.nprobe = 2;
  EXPECT_THROW(build_index(wrong), Error);
  EXPECT_FALSE(fs::exists(wrong.out));
}

// A graph model re-ranking an embedding model's candidates: the manifest
// names both checkpoints, the stored first-stage vectors are the embedding
// model's, and with every item a candidate the answer is exhaustive scoring.
TEST_F(SearchTest, FirstStageFromAnEmbeddingModelsCheckpoint) {
  IndexOptions o = options("sgm", "sgm_vsepp_idx");
  o.first_stage = checkpoint("vsepp", 2);
  const Json manifest = build_index(o);
  EXPECT_EQ(manifest["model"], "sgm");
  EXPECT_EQ(manifest["first_stage"]["model"], "vsepp");
  EXPECT_EQ(manifest["first_stage"]["checkpoint"]["hash"], file_hash_hex(o.first_stage));
  EXPECT_EQ(manifest["format"], 3);

  // The candidates are VSE++'s top K: the images index holds its vectors.
  const IndexOptions vsepp = options("vsepp", "vsepp_first_idx", 2);
  build_index(vsepp);
  auto embedding = SearchIndex::open(vsepp.out);
  auto index = SearchIndex::open(o.out);
  ASSERT_TRUE(index->two_stage());
  const std::string text = index->split().captions[5];
  SearchOptions few, all, exhaustive;
  few.k = 4, few.candidates = 4;
  all.k = 5, all.candidates = 20;
  exhaustive.k = 5, exhaustive.exhaustive = true;
  auto sorted = [](std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(sorted(ids_of(index->search_text(text, few))), sorted(ids_of(embedding->search_text(text, few))));
  EXPECT_EQ(sorted(ids_of(index->search_image(3, few))), sorted(ids_of(embedding->search_image(3, few))));
  EXPECT_EQ(ids_of(index->search_text(text, all)), ids_of(index->search_text(text, exhaustive)));

  // The first-stage checkpoint is checked like the model's own.
  const std::string copy = root_ + "/first_copy.ckpt";
  fs::copy_file(o.first_stage, copy, fs::copy_options::overwrite_existing);
  IndexOptions moved = o;
  moved.first_stage = copy;
  moved.out = root_ + "/sgm_moved_idx";
  build_index(moved);
  fs::copy_file(checkpoint("vsepp", 3), copy, fs::copy_options::overwrite_existing);
  try {
    SearchIndex::open(moved.out);
    FAIL() << "opened an index whose first-stage checkpoint changed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--first-stage"), std::string::npos) << e.what();
  }

  // Only an embedding model can be a first stage, and only for a graph model.
  IndexOptions graph_first = o;
  graph_first.first_stage = checkpoint("gsmn");
  graph_first.out = root_ + "/refused_idx";
  EXPECT_THROW(build_index(graph_first), Error);
  IndexOptions embedding_with_first = options("vsepp", "refused_idx");
  embedding_with_first.first_stage = checkpoint("hrem");
  EXPECT_THROW(build_index(embedding_with_first), Error);
  EXPECT_FALSE(fs::exists(root_ + "/refused_idx"));
}

TEST_F(SearchTest, RefusesAnIndexOfAnotherFormat) {
  const IndexOptions o = options("vsepp", "old_format_idx");
  Json manifest = build_index(o);
  manifest["format"] = 2;
  write_file_atomic(o.out + "/manifest.json", manifest.dump());
  try {
    SearchIndex::open(o.out);
    FAIL() << "opened a format-2 index";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("format 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rebuild"), std::string::npos) << e.what();
  }
}
