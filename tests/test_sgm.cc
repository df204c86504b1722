// SGM: shapes, gradients, batched score == per-pair equations, masks, the
// object-level fallback for empty scene graphs and triplet-less captions,
// relations=none, a short training run, and training on a split with neither
// scene graph nor boxes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "scenematch/core/progress.h"
#include "scenematch/core/runtime.h"
#include "scenematch/models/checkpoint.h"
#include "scenematch/models/matcher.h"
#include "scenematch/models/sgm.h"
#include "scenematch/synth/generator.h"
#include "scenematch/train/run.h"
#include "support/random_batches.h"
#include "support/short_training.h"
#include "support/temp_dir.h"

using namespace sm;

namespace {

constexpr int64_t kVocabSize = 40, kFeat = 16, kRegions = 5, kObjects = 3, kRelations = 3, kLabelWords = 2;
constexpr int64_t kTriplets = 2, kPathWords = 4;

Vocab test_vocab() { return sm::testing::numbered_vocab(kVocabSize); }

Config test_config() {
  Config c = matcher_preset("sgm", "cpu");
  c["embed_size"] = 32;
  c["word_dim"] = 16;
  c["feature_dim"] = kFeat;
  return c;
}

MatcherPtr make_model(uint64_t seed = 7, const std::string& relations = "auto",
                      const std::string& missing_relation_level = "object") {
  torch::manual_seed(seed);
  static const Vocab vocab = test_vocab();
  Config c = test_config();
  c["relations"] = relations;
  c["missing_relation_level"] = missing_relation_level;
  return make_matcher("sgm", c, vocab);
}

// Images 0..B-1 with varied scene graphs: image 0 has a masked object, image 1 a masked region, image 2 a
// masked relation, and the last image (when B >= 4) an empty scene graph. Relations and objects only use
// regions 0..3, so region 4 may be masked.
ImageBatch make_images(int64_t B, uint64_t seed) {
  sm::testing::ImageSpec s;
  s.regions = kRegions;
  s.features = kFeat;
  s.present = [](int64_t i) { return i == 1 ? kRegions - 1 : kRegions; };
  s.objects = kObjects;
  s.relations = kRelations;
  s.label_words = kLabelWords;
  s.vocab = kVocabSize;
  s.graph_regions = kRegions - 1;
  s.one_word_labels = true;
  ImageBatch b = sm::testing::random_images(B, s, seed);
  if (B > 0) b.obj_mask[0][2] = false;
  if (B > 2) b.rel_mask[2][2] = false;
  if (B >= 4) {
    b.obj_mask[B - 1].fill_(false);
    b.rel_mask[B - 1].fill_(false);
  }
  b.rel_feature.masked_fill_(~b.rel_mask.unsqueeze(-1), 0);
  return b;
}

// Captions with varied lengths: caption 0 has one triplet, caption 1 none, the rest two.
CaptionBatch make_captions(int64_t B, int64_t L, uint64_t seed) {
  sm::testing::CaptionSpec s;
  s.words = L;
  s.vocab = kVocabSize;
  s.min_words = 3;
  s.triplets = kTriplets;
  s.path_words = kPathWords;
  s.triplet_count = [](int64_t i) { return i == 0 ? 1 : i == 1 ? 0 : kTriplets; };
  return sm::testing::random_captions(B, s, seed);
}

torch::Tensor score_of(Matcher& m, const ImageBatch& images, const CaptionBatch& captions) {
  torch::NoGradGuard no_grad;
  return m.score(m.encode_images(images), m.encode_captions(captions));
}

}  // namespace

TEST(Sgm, RegistryPresetsAndNeeds) {
  Config paper = matcher_preset("sgm", "paper");
  EXPECT_EQ(paper["embed_size"], 1024);
  EXPECT_EQ(paper["word_dim"], 300);
  EXPECT_EQ(paper["batch_size"], 200);
  EXPECT_DOUBLE_EQ(paper["margin"].get<double>(), 0.2);
  EXPECT_TRUE(paper["max_violation"].get<bool>());
  EXPECT_LT(matcher_preset("sgm", "cpu")["embed_size"].get<int64_t>(), 1024);
  EXPECT_THROW(matcher_preset("sgm", "huge"), Error);
  auto m = make_model();
  EXPECT_TRUE(m->needs().parses);
  EXPECT_TRUE(m->needs().scene_graphs);
  EXPECT_FALSE(m->needs().boxes);
}

TEST(Sgm, Shapes) {
  auto m = make_model();
  torch::NoGradGuard no_grad;
  Encoding img = m->encode_images(make_images(3, 1));
  Encoding cap = m->encode_captions(make_captions(5, 7, 2));
  EXPECT_EQ(img.at("objects").sizes(), (std::vector<int64_t>{3, kRegions, 32}));
  EXPECT_EQ(img.at("relations").sizes(), (std::vector<int64_t>{3, kRelations, 32}));
  EXPECT_EQ(cap.at("words").sizes(), (std::vector<int64_t>{5, 7, 32}));
  EXPECT_EQ(cap.at("paths").sizes(), (std::vector<int64_t>{5, kTriplets, 32}));
  EXPECT_EQ(m->score(img, cap).sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(m->global_embedding(img, true).sizes(), (std::vector<int64_t>{3, 32}));
  EXPECT_EQ(m->global_embedding(cap, false).sizes(), (std::vector<int64_t>{5, 32}));
}

TEST(Sgm, GradientsReachEveryParameter) {
  auto m = make_model();
  LossOutput out = m->loss(make_images(6, 3), make_captions(6, 8, 4));
  ASSERT_TRUE(out.terms.count("triplet"));
  ASSERT_GT(out.total.item<double>(), 0);
  out.total.backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  }
}

TEST(Sgm, BatchedScoreEqualsPerPairEquations) {
  auto m = make_model();
  torch::NoGradGuard no_grad;
  Encoding img = m->encode_images(make_images(5, 5));
  // Two caption batches of different lengths, concatenated: padding added by Encoding::cat must not matter.
  Encoding cap =
      Encoding::cat({m->encode_captions(make_captions(4, 9, 6)), m->encode_captions(make_captions(3, 5, 7))});
  torch::Tensor s = m->score(img, cap);
  int used = 0, dropped = 0;
  for (int64_t i = 0; i < img.size(); ++i)
    for (int64_t c = 0; c < cap.size(); ++c) {
      sgm::PairScore ref = sgm::reference_score(img, i, cap, c);
      EXPECT_NEAR(s[i][c].item<double>(), ref.total, 1e-5) << "image " << i << " caption " << c;
      (ref.relation_used ? used : dropped)++;
    }
  EXPECT_GT(used, 0);
  EXPECT_GT(dropped, 0);
  // Blocks of a larger matrix give the same numbers as the whole.
  EXPECT_TRUE(torch::allclose(m->score(img.slice(1, 4), cap.slice(2, 6)), s.slice(0, 1, 4).slice(1, 2, 6), 1e-6, 1e-6));
}

TEST(Sgm, PaddingAndMaskedEntriesAreIgnored) {
  auto m = make_model();
  ImageBatch images = make_images(4, 8);
  CaptionBatch captions = make_captions(4, 8, 9);
  torch::Tensor base = score_of(*m, images, captions);

  CaptionBatch c2 = captions;
  c2.tokens = captions.tokens.clone().masked_fill_(~captions.word_mask(), 5);  // padded token ids
  auto in_path = torch::arange(kPathWords).view({1, 1, -1}) < captions.triplet_lengths.unsqueeze(-1);
  c2.triplets = captions.triplets.clone().masked_fill_(~in_path, 6);  // padded triplet words, absent triplets
  EXPECT_TRUE(torch::allclose(score_of(*m, images, c2), base, 1e-6, 1e-6));

  ImageBatch i2 = images;
  i2.features = images.features.clone();
  i2.features.masked_fill_(~images.region_mask.unsqueeze(-1), 9.0);  // masked region features
  i2.obj_label = images.obj_label.clone().masked_fill_(~images.obj_mask.unsqueeze(-1), 7);
  i2.obj_region = images.obj_region.clone().masked_fill_(~images.obj_mask, kRegions - 1);
  i2.rel_predicate = images.rel_predicate.clone().masked_fill_(~images.rel_mask.unsqueeze(-1), 8);
  i2.rel_feature = images.rel_feature.clone().masked_fill_(~images.rel_mask.unsqueeze(-1), 3.0);
  i2.rel_subject = images.rel_subject.clone().masked_fill_(~images.rel_mask, kRegions - 1);
  EXPECT_TRUE(torch::allclose(score_of(*m, i2, captions), base, 1e-6, 1e-6));

  // Sanity: the same edits on present entries do change scores.
  ImageBatch i3 = images;
  i3.obj_label = images.obj_label.clone().fill_(7);
  EXPECT_FALSE(torch::allclose(score_of(*m, i3, captions), base, 1e-4, 1e-4));
}

TEST(Sgm, EmptySceneGraphFallsBackToObjectLevel) {
  auto m = make_model();
  ImageBatch images = make_images(4, 10);  // image 3: no objects, no relations
  CaptionBatch captions = make_captions(5, 7, 11);
  torch::NoGradGuard no_grad;
  Encoding img = m->encode_images(images), cap = m->encode_captions(captions);
  torch::Tensor s = m->score(img, cap);
  ASSERT_TRUE(torch::isfinite(s).all().item<bool>());
  for (int64_t c = 0; c < cap.size(); ++c) {
    sgm::PairScore ref = sgm::reference_score(img, 3, cap, c);
    EXPECT_FALSE(ref.relation_used);
    EXPECT_NEAR(s[3][c].item<double>(), 2 * ref.object, 1e-5);  // the object level stands in for both
  }
  // Other captions' triplets now say something else: only images with relations see it.
  CaptionBatch other = captions;
  other.triplets = captions.triplets.clone().masked_fill_(captions.triplets > 0, 9);
  torch::Tensor s2 = score_of(*m, images, other);
  EXPECT_TRUE(torch::allclose(s2[3], s[3], 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(s2.slice(0, 0, 3), s.slice(0, 0, 3), 1e-4, 1e-4));

  // A split without any scene graph tensors scores like an all-empty scene graph.
  ImageBatch bare = images, empty = images;
  for (torch::Tensor* t : {&bare.obj_region, &bare.obj_label, &bare.obj_mask, &bare.rel_subject, &bare.rel_object,
                           &bare.rel_predicate, &bare.rel_feature, &bare.rel_mask})
    *t = torch::Tensor();
  empty.obj_mask = torch::zeros_like(images.obj_mask);
  empty.rel_mask = torch::zeros_like(images.rel_mask);
  EXPECT_TRUE(torch::allclose(score_of(*m, bare, captions), score_of(*m, empty, captions), 1e-6, 1e-6));

  // Without union-box features, relations are built from their regions and still score.
  ImageBatch no_union = images;
  no_union.rel_feature = torch::Tensor();
  torch::Tensor s3 = score_of(*m, no_union, captions);
  EXPECT_TRUE(torch::isfinite(s3).all().item<bool>());
  EXPECT_FALSE(torch::allclose(s3.slice(0, 0, 3), s.slice(0, 0, 3), 1e-4, 1e-4));
}

TEST(Sgm, CaptionWithoutTripletIsScoredAtObjectLevel) {
  ImageBatch images = make_images(4, 12);
  CaptionBatch captions = make_captions(4, 6, 13);  // caption 1 has no triplet
  torch::NoGradGuard no_grad;
  // "object": the object level stands in for the missing relation level (S = 2 S^o), so the caption is
  // ranked on the scale of captions with triplets; "zero": S^r = 0 (S = S^o).
  for (const char* missing : {"object", "zero"}) {
    SCOPED_TRACE(missing);
    auto m = make_model(7, "auto", missing);
    Encoding img = m->encode_images(images), cap = m->encode_captions(captions);
    torch::Tensor s = m->score(img, cap);
    const double factor = std::string(missing) == "object" ? 2.0 : 1.0;
    for (int64_t i = 0; i < img.size(); ++i) {
      sgm::PairScore ref = sgm::reference_score(img, i, cap, 1, missing);
      EXPECT_FALSE(ref.relation_used);
      EXPECT_NEAR(s[i][1].item<double>(), factor * ref.object, 1e-5);
      EXPECT_NEAR(s[i][1].item<double>(), ref.total, 1e-5);
      // Pairs with both levels score S^o + S^r either way.
      sgm::PairScore with = sgm::reference_score(img, i, cap, 0, missing);
      if (with.relation_used) {
        EXPECT_NEAR(s[i][0].item<double>(), with.object + with.relation, 1e-5);
      }
    }
    // Changing every visual relation moves the captions with triplets and leaves caption 1 alone.
    ImageBatch changed = images;
    changed.rel_predicate = images.rel_predicate.flip(1);
    changed.rel_feature = torch::randn_like(images.rel_feature).masked_fill_(~images.rel_mask.unsqueeze(-1), 0);
    torch::Tensor s2 = score_of(*m, changed, captions);
    EXPECT_TRUE(torch::allclose(s2.select(1, 1), s.select(1, 1), 1e-6, 1e-6));
    EXPECT_FALSE(torch::allclose(s2.select(1, 0), s.select(1, 0), 1e-4, 1e-4));
  }
  Config bad = test_config();
  bad["missing_relation_level"] = "skip";
  EXPECT_THROW(make_matcher("sgm", bad, test_vocab()), Error);
}

TEST(Sgm, RelationScoresAreDirectional) {
  auto m = make_model();
  ImageBatch images = make_images(3, 14);
  images.rel_subject = torch::tensor({{0, 1, 2}, {1, 2, 3}, {3, 0, 1}}, torch::kInt64);
  images.rel_object = torch::tensor({{1, 2, 3}, {0, 3, 2}, {2, 1, 0}}, torch::kInt64);
  CaptionBatch captions = make_captions(3, 6, 15);
  torch::Tensor base = score_of(*m, images, captions);
  // "a horse riding a man" is not "a man riding a horse", on either side.
  ImageBatch swapped = images;
  std::swap(swapped.rel_subject, swapped.rel_object);
  EXPECT_FALSE(torch::allclose(score_of(*m, swapped, captions).select(1, 0), base.select(1, 0), 1e-4, 1e-4));
  CaptionBatch forward = captions, reversed = captions;
  forward.triplets = captions.triplets.clone();
  reversed.triplets = captions.triplets.clone();
  forward.triplets[0][0] = torch::tensor({10, 11, 12, 0}, torch::kInt64);
  reversed.triplets[0][0] = torch::tensor({12, 11, 10, 0}, torch::kInt64);
  forward.triplet_lengths = captions.triplet_lengths.clone();
  forward.triplet_lengths[0][0] = 3;
  reversed.triplet_lengths = forward.triplet_lengths;
  EXPECT_FALSE(torch::allclose(score_of(*m, images, reversed).select(1, 0), score_of(*m, images, forward).select(1, 0),
                               1e-4, 1e-4));
}

TEST(Sgm, ShortTrainingLowersLoss) {
  auto m = make_model(21);
  ImageBatch images = make_images(8, 16);
  CaptionBatch captions = make_captions(8, 8, 17);
  const auto [first, last] = sm::testing::adam_steps(*m, images, captions, 2e-3, 30);
  EXPECT_LT(last, 0.5 * first);
}

TEST(Sgm, RelationsNoneScoresTheObjectLevelOnly) {
  auto full = make_model(9), none = make_model(9, "none");
  EXPECT_EQ(full->needs().relations, RelationSource::Auto);
  EXPECT_EQ(none->needs().relations, RelationSource::None);
  EXPECT_TRUE(none->needs().scene_graphs);  // object labels still count
  EXPECT_THROW(make_model(9, "derived"), Error);

  ImageBatch images = make_images(4, 18);
  CaptionBatch captions = make_captions(5, 6, 19);
  torch::NoGradGuard no_grad;
  Encoding img = none->encode_images(images);
  EXPECT_EQ(img.at("relations").size(1), 0);
  EXPECT_EQ(none->encode_captions(captions).at("paths").size(1), 0);
  // Same weights; the full model with every relation and triplet masked is the object level.
  ImageBatch no_relations = images;
  no_relations.rel_mask = torch::zeros_like(images.rel_mask);
  torch::Tensor object_level = score_of(*full, no_relations, captions);
  EXPECT_TRUE(torch::allclose(score_of(*none, images, captions), object_level, 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(score_of(*full, images, captions), object_level, 1e-4, 1e-4));
}

TEST(Sgm, TrainsOnASplitWithoutSceneGraphOrBoxes) {
  namespace fs = std::filesystem;
  const sm::testing::TempDir temp("sm_sgm_derived");
  const std::string root = temp.path();
  Progress::set_enabled(false);
  set_threads(1);
  synth::SynthOptions options = synth::preset_options("tiny");
  options.train = 60;
  options.dev = 20;
  options.test = 20;
  synth::generate_dataset(root + "/world", options);
  for (const char* split : {"train", "dev", "test"})
    for (const char* suffix : {"vsg.jsonl", "vsg_rel.npy", "ims_bbx.npy", "ims_size.npy"})
      fs::remove(cat(root, "/world/", split, "_", suffix));

  TrainRequest r;
  r.model = "sgm";
  r.data_dir = root + "/world";
  r.out_dir = root + "/run";
  r.preset = "cpu";
  r.overrides = {"epochs=2", "embed_size=32", "word_dim=16", "batch_size=32"};
  r.threads = 1;
  r.verbose = false;
  TrainSummary s = run_training(r);
  EXPECT_EQ(s.epochs, 2);
  EXPECT_TRUE(std::isfinite(s.last_record["loss"].get<double>()));
  EXPECT_GT(s.best_rsum, 0);
  // The run fixed where its relations came from, for evaluation and `info`.
  EXPECT_EQ(read_checkpoint_header(s.best_path)["config"]["relations"], "features");
}
