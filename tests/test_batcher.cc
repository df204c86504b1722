#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include "scenematch/core/error.h"
#include "scenematch/data/batcher.h"
#include "scenematch/data/tokenizer.h"
#include "support/temp_dir.h"

using namespace sm;
namespace fs = std::filesystem;

namespace {

// A 4-image split with 5 captions per image, boxes and scene graphs.
class Batching : public ::testing::Test {
 protected:
  static constexpr int64_t N = 4, R = 3, F = 2;

  void SetUp() override {
    features_ = torch::randn({N, R, F});
    write_npy(file("ims.npy"), features_);
    std::string caps;
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < 5; ++j) caps += (j % 2 ? "a dog on grass\n" : cat("the cat ", std::string(j, '!'), "\n"));
    text("caps.txt", caps);
    // Image i: 200 x 100 pixels; region r: x from 20r to 20r + 40, y from 10 to 90.
    auto boxes = torch::zeros({N, R, 4});
    for (int i = 0; i < N; ++i)
      for (int r = 0; r < R; ++r) boxes[i][r] = torch::tensor({20.f * r, 10.f, 20.f * r + 40, 90.f});
    write_npy(file("ims_bbx.npy"), boxes);
    write_npy(file("ims_size.npy"), torch::tensor({200.f, 100.f}).repeat({N, 1}));
    text("vsg.jsonl",
         "{\"objects\": [{\"region\": 0, \"label\": \"dog\"}, {\"region\": 2, \"label\": \"green grass\"}],"
         " \"relations\": [{\"subject\": 0, \"predicate\": \"on\", \"object\": 2},"
         " {\"subject\": 2, \"predicate\": \"under\", \"object\": 1}]}\n"
         "{}\n{}\n"
         "{\"objects\": [{\"region\": 1, \"label\": \"cat\"}]}\n");
  }
  std::string file(const std::string& suffix) const { return dir_ + "/train_" + suffix; }
  void text(const std::string& suffix, const std::string& content) const {
    std::ofstream(file(suffix), std::ios::binary) << content;
  }

  void load(LoadOptions o = {}) {
    split_ = load_split(dir_, "train", o);
    graphs_.clear();
    std::vector<std::vector<std::string>> tokenized;
    for (const auto& c : split_.captions) {
      graphs_.push_back(tokens_only(c));
      tokenized.push_back(graphs_.back().tokens);
    }
    vocab_ = Vocab::build(tokenized, 1);
  }

  sm::testing::TempDir temp_{"sm_test_batcher"};
  const std::string dir_ = temp_.path();
  torch::Tensor features_;
  Split split_;
  std::vector<CaptionGraph> graphs_;
  Vocab vocab_;
};

TEST_F(Batching, ImageFeaturesAndMasks) {
  load();
  Batcher b(split_, vocab_, graphs_, {});
  ImageBatch im = b.images({3, 1});
  EXPECT_EQ(im.ids, (std::vector<int64_t>{3, 1}));
  ASSERT_EQ(im.features.sizes(), (std::vector<int64_t>{2, R, F}));
  EXPECT_TRUE(torch::equal(im.features[0], features_[3]));
  EXPECT_TRUE(torch::equal(im.features[1], features_[1]));
  EXPECT_EQ(im.region_mask.scalar_type(), torch::kBool);
  EXPECT_TRUE(im.region_mask.all().item<bool>());
  EXPECT_FALSE(im.boxes.defined());
  EXPECT_FALSE(im.obj_mask.defined());
}

TEST_F(Batching, BoxesAreNormalisedByImageSize) {
  LoadOptions o;
  o.boxes = true;
  load(o);
  DataNeeds needs;
  needs.boxes = true;
  Batcher b(split_, vocab_, graphs_, needs);
  ImageBatch im = b.images({2});
  ASSERT_EQ(im.boxes.sizes(), (std::vector<int64_t>{1, R, 4}));
  EXPECT_TRUE(torch::allclose(im.boxes[0][1], torch::tensor({0.1f, 0.1f, 0.3f, 0.9f})));
  EXPECT_TRUE(torch::allclose(im.boxes[0][2], torch::tensor({0.2f, 0.1f, 0.4f, 0.9f})));
}

TEST_F(Batching, NeedsThatTheSplitLacksAreErrors) {
  load();
  DataNeeds boxes, graphs;
  boxes.boxes = true;
  graphs.scene_graphs = true;
  EXPECT_THROW(Batcher(split_, vocab_, graphs_, boxes), Error);
  EXPECT_THROW(Batcher(split_, vocab_, graphs_, graphs), Error);
  std::vector<CaptionGraph> too_few(graphs_.begin(), graphs_.end() - 1);
  EXPECT_THROW(Batcher(split_, vocab_, too_few, {}), Error);
}

TEST_F(Batching, SceneGraphTensors) {
  LoadOptions o;
  o.scene_graphs = true;
  load(o);
  // Label and predicate words must be in the vocabulary to get ids.
  vocab_ = Vocab::build({{"dog", "green", "grass", "on", "under", "cat", "a", "the"}}, 1);
  DataNeeds needs;
  needs.scene_graphs = true;
  Batcher b(split_, vocab_, graphs_, needs);
  ImageBatch im = b.images({0, 1, 3});
  const int64_t O = 2, P = 2, WO = 2, WP = 1;
  ASSERT_EQ(im.obj_region.sizes(), (std::vector<int64_t>{3, O}));
  ASSERT_EQ(im.obj_label.sizes(), (std::vector<int64_t>{3, O, WO}));
  ASSERT_EQ(im.rel_predicate.sizes(), (std::vector<int64_t>{3, P, WP}));
  EXPECT_EQ(im.obj_region[0][1].item<int64_t>(), 2);
  EXPECT_EQ(im.obj_label[0][0][0].item<int64_t>(), vocab_.id("dog"));
  EXPECT_EQ(im.obj_label[0][0][1].item<int64_t>(), 0);  // padding
  EXPECT_EQ(im.obj_label[0][1][0].item<int64_t>(), vocab_.id("green"));
  EXPECT_EQ(im.obj_label[0][1][1].item<int64_t>(), vocab_.id("grass"));
  EXPECT_EQ(im.rel_subject[0][1].item<int64_t>(), 2);
  EXPECT_EQ(im.rel_object[0][1].item<int64_t>(), 1);
  EXPECT_EQ(im.rel_predicate[0][1][0].item<int64_t>(), vocab_.id("under"));
  EXPECT_TRUE(torch::equal(im.obj_mask, torch::tensor({{true, true}, {false, false}, {true, false}})));
  EXPECT_TRUE(torch::equal(im.rel_mask, torch::tensor({{true, true}, {false, false}, {false, false}})));
  EXPECT_FALSE(im.rel_feature.defined());

  // A batch of images with no objects or relations still has non-empty tensors.
  ImageBatch none = b.images({1, 2});
  EXPECT_EQ(none.obj_region.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(none.rel_predicate.sizes(), (std::vector<int64_t>{2, 1, 1}));
  EXPECT_FALSE(none.obj_mask.any().item<bool>());
  EXPECT_FALSE(none.rel_mask.any().item<bool>());
}

TEST_F(Batching, RelationFeaturesComeFromTheFile) {
  auto rel = torch::zeros({N, 3, F});
  rel[0][0] = torch::tensor({1.f, 2.f});
  rel[0][1] = torch::tensor({3.f, 4.f});
  write_npy(file("vsg_rel.npy"), rel);
  LoadOptions o;
  o.scene_graphs = true;
  load(o);
  DataNeeds needs;
  needs.scene_graphs = true;
  Batcher b(split_, vocab_, graphs_, needs);
  ImageBatch im = b.images({1, 0});
  ASSERT_EQ(im.rel_feature.sizes(), (std::vector<int64_t>{2, 2, F}));  // P from the graphs, not the file
  EXPECT_TRUE(torch::equal(im.rel_feature[1], rel[0].slice(0, 0, 2)));
  EXPECT_EQ(im.rel_feature[0].abs().sum().item<float>(), 0);
}

TEST_F(Batching, NonFiniteFeaturesNameFileAndImage) {
  features_[2][1][0] = std::numeric_limits<float>::quiet_NaN();
  write_npy(file("ims.npy"), features_);
  load();  // features are not scanned at load time
  Batcher b(split_, vocab_, graphs_, {});
  EXPECT_NO_THROW(b.images({0, 1, 3}));
  try {
    b.images({0, 2});
    ADD_FAILURE() << "NaN accepted";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(file("ims.npy")), std::string::npos) << msg;
    EXPECT_NE(msg.find("image 2"), std::string::npos) << msg;
  }
  features_[2][1][0] = std::numeric_limits<float>::infinity();
  write_npy(file("ims.npy"), features_);
  load();
  Batcher again(split_, vocab_, graphs_, {});
  EXPECT_THROW(again.images({2}), Error);
}

TEST_F(Batching, CaptionTokensArePaddedWithZeros) {
  load();
  Batcher b(split_, vocab_, graphs_, {});
  // Caption 1: "a dog on grass" (4 tokens); caption 4: "the cat !!!!" (6 tokens).
  CaptionBatch c = b.captions({1, 4});
  ASSERT_EQ(c.tokens.sizes(), (std::vector<int64_t>{2, 6}));
  EXPECT_TRUE(torch::equal(c.lengths, torch::tensor({4, 6}, torch::kLong)));
  EXPECT_EQ(c.tokens[0][0].item<int64_t>(), vocab_.id("a"));
  EXPECT_EQ(c.tokens[0][3].item<int64_t>(), vocab_.id("grass"));
  EXPECT_TRUE(torch::equal(c.tokens[0].slice(0, 4), torch::zeros({2}, torch::kLong)));
  EXPECT_EQ(c.tokens[1][5].item<int64_t>(), vocab_.id("!"));
  EXPECT_TRUE(torch::equal(c.word_mask()[0], torch::tensor({1, 1, 1, 1, 0, 0}).to(torch::kBool)));
  EXPECT_FALSE(c.pos.defined());
  EXPECT_FALSE(c.triplets.defined());
}

TEST_F(Batching, CaptionsOfOnlyUnknownWordsAreErrors) {
  load();
  vocab_ = Vocab::build({{"dog", "grass"}}, 1);  // "the cat" captions become all unknown
  Batcher b(split_, vocab_, graphs_, {});
  EXPECT_NO_THROW(b.captions({1, 3}));
  try {
    b.captions({1, 5});
    ADD_FAILURE() << "all-unknown caption accepted";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(file("caps.txt") + ":6"), std::string::npos) << msg;
    EXPECT_NE(msg.find("caption 5"), std::string::npos) << msg;
  }
  CaptionGraph probe = tokens_only("zebras everywhere");
  try {
    b.captions_from({&probe}, {17});
    ADD_FAILURE() << "all-unknown caption accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("caption 17"), std::string::npos) << e.what();
  }
}

TEST_F(Batching, ParseTensorsFromAHandMadeGraph) {
  load();
  vocab_ = Vocab::build({{"a", "man", "riding", "horse", "on", "beach", "the", "brown"}}, 1);
  DataNeeds needs;
  needs.parses = true;
  Batcher b(split_, vocab_, graphs_, needs);

  CaptionGraph g;  // "a man riding a brown horse"
  g.tokens = {"a", "man", "riding", "a", "brown", "horse"};
  g.pos = {Pos::DET, Pos::NOUN, Pos::VERB, Pos::DET, Pos::ADJ, Pos::NOUN};
  g.edges = {{0, 1}, {1, 2}, {2, 5}, {3, 5}, {4, 5}};
  SceneRelation rel;
  rel.subject = "man";
  rel.predicate = "riding";
  rel.object = "brown horse";
  g.relations = {rel};
  CaptionGraph bare = tokens_only("the beach");  // no edges, no relations

  CaptionBatch c = b.captions_from({&g, &bare}, {7, 8});
  EXPECT_EQ(c.ids, (std::vector<int64_t>{7, 8}));
  ASSERT_EQ(c.pos.sizes(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(c.pos[0][1].item<int64_t>(), static_cast<int64_t>(Pos::NOUN) + 1);
  EXPECT_EQ(c.pos[0][4].item<int64_t>(), static_cast<int64_t>(Pos::ADJ) + 1);
  EXPECT_EQ(c.pos[1][2].item<int64_t>(), 0);  // padding

  ASSERT_EQ(c.adjacency.sizes(), (std::vector<int64_t>{2, 6, 6}));
  EXPECT_TRUE(torch::equal(c.adjacency, c.adjacency.transpose(1, 2)));
  EXPECT_EQ(c.adjacency[0].sum().item<float>(), 2 * 5);
  EXPECT_EQ(c.adjacency[0][2][5].item<float>(), 1);
  EXPECT_EQ(c.adjacency[0][5][2].item<float>(), 1);
  EXPECT_EQ(c.adjacency[0][0][2].item<float>(), 0);
  EXPECT_EQ(c.adjacency[0].diagonal().sum().item<float>(), 0);
  EXPECT_EQ(c.adjacency[1].sum().item<float>(), 0);

  ASSERT_EQ(c.triplets.sizes(), (std::vector<int64_t>{2, 1, 4}));  // T >= 1 even for the bare caption
  std::vector<int64_t> expected = {vocab_.id("man"), vocab_.id("riding"), vocab_.id("brown"), vocab_.id("horse")};
  EXPECT_TRUE(torch::equal(c.triplets[0][0], torch::tensor(expected)));
  EXPECT_TRUE(torch::equal(c.triplet_lengths, torch::tensor({{4}, {0}}, torch::kLong)));
  EXPECT_TRUE(torch::equal(c.triplet_mask, torch::tensor({{true}, {false}})));
  EXPECT_EQ(c.triplets[1].abs().sum().item<int64_t>(), 0);

  CaptionGraph broken = g;
  broken.edges.push_back({2, 6});  // past the last token
  EXPECT_THROW(b.captions_from({&broken}, {0}), Error);
}

TEST_F(Batching, EpochCoversEveryCaptionOnceAndRepeatsPerSeed) {
  load();
  Batcher b(split_, vocab_, graphs_, {});
  std::mt19937_64 rng(7);
  auto batches = b.epoch(6, rng);
  ASSERT_EQ(batches.size(), 4u);  // 20 captions: 6 + 6 + 6 + 2
  EXPECT_EQ(batches.back().size(), 2u);
  std::vector<int64_t> all;
  for (const auto& batch : batches) all.insert(all.end(), batch.begin(), batch.end());
  std::vector<int64_t> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_FALSE(std::is_sorted(all.begin(), all.end()));

  std::mt19937_64 same(7), other(8);
  EXPECT_EQ(b.epoch(6, same), batches);
  EXPECT_NE(b.epoch(6, other), batches);
  // The next epoch from the same generator is a different order.
  EXPECT_NE(b.epoch(6, rng), batches);
  EXPECT_THROW(b.epoch(0, rng), Error);
}

TEST_F(Batching, GroupedEpochKeepsCaptionsOfAnImageTogether) {
  load();
  Batcher b(split_, vocab_, graphs_, {});
  auto image_counts = [&](const std::vector<int64_t>& batch) {
    std::map<int64_t, int64_t> counts;
    for (int64_t c : batch) ++counts[split_.image_of_caption(c)];
    return counts;
  };
  auto covers_every_caption_once = [](const std::vector<std::vector<int64_t>>& batches) {
    std::vector<int64_t> all;
    for (const auto& batch : batches) all.insert(all.end(), batch.begin(), batch.end());
    std::sort(all.begin(), all.end());
    std::vector<int64_t> expected(20);
    std::iota(expected.begin(), expected.end(), 0);
    return all == expected;
  };

  // 5 captions an image in groups of 5: two whole images a batch of 10.
  std::mt19937_64 rng(3);
  auto whole = b.epoch(10, 5, rng);
  ASSERT_EQ(whole.size(), 2u);
  for (const auto& batch : whole) {
    auto counts = image_counts(batch);
    ASSERT_EQ(counts.size(), 2u);
    for (const auto& [image, n] : counts) EXPECT_EQ(n, 5) << "image " << image;
  }
  EXPECT_TRUE(covers_every_caption_once(whole));

  // Groups of 2 (2 + 2 + 1 per image, 12 groups), 3 groups a batch of 7: an
  // image is alone in a batch at most once (its fifth caption).
  std::mt19937_64 pairs_rng(3);
  auto pairs = b.epoch(7, 2, pairs_rng);
  ASSERT_EQ(pairs.size(), 4u);
  std::map<int64_t, int64_t> alone;
  for (const auto& batch : pairs) {
    EXPECT_LE(batch.size(), 6u);
    for (const auto& [image, n] : image_counts(batch))
      if (n == 1) ++alone[image];
  }
  for (const auto& [image, n] : alone) EXPECT_LE(n, 1) << "image " << image;
  EXPECT_TRUE(covers_every_caption_once(pairs));

  // Deterministic per seed, different across seeds and epochs.
  std::mt19937_64 same(3), other(4);
  EXPECT_EQ(b.epoch(7, 2, same), pairs);
  EXPECT_NE(b.epoch(7, 2, other), pairs);
  EXPECT_NE(b.epoch(7, 2, pairs_rng), pairs);

  // One caption an image is the ungrouped epoch, draw for draw.
  std::mt19937_64 ungrouped(9), one(9);
  EXPECT_EQ(b.epoch(6, 1, one), b.epoch(6, ungrouped));

  EXPECT_THROW(b.epoch(10, 6, rng), Error);  // more than the 5 captions an image has
  EXPECT_THROW(b.epoch(10, 0, rng), Error);
  EXPECT_THROW(b.epoch(4, 5, rng), Error);  // no group fits a batch
}

}  // namespace
