// The visual scene graph derived when a split has no S_vsg.jsonl: predicates
// and pairs follow hand-made box geometry, the number per image is bounded and
// ranked, feature pairs follow similarity, and the derived file round-trips
// through the reader and the loader.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <set>

#include "scenematch/core/error.h"
#include "scenematch/data/derived_vsg.h"
#include "support/temp_dir.h"

using namespace sm;
namespace fs = std::filesystem;

namespace {

torch::Tensor boxes_of(const std::vector<std::array<float, 4>>& boxes) {
  torch::Tensor t = torch::zeros({static_cast<int64_t>(boxes.size()), 4});
  for (size_t r = 0; r < boxes.size(); ++r)
    for (int k = 0; k < 4; ++k) t[r][k] = boxes[r][k];
  return t;
}

std::string predicate(std::array<float, 4> s, std::array<float, 4> o) { return box_predicate(s.data(), o.data()); }

const VsgRelation* find(const SceneGraph& g, int64_t a, int64_t b) {
  for (const auto& r : g.relations)
    if ((r.subject == a && r.object == b) || (r.subject == b && r.object == a)) return &r;
  return nullptr;
}

using sm::testing::TempDir;

}  // namespace

TEST(DerivedVsg, PredicatesFollowBoxGeometry) {
  // 100 x 100 image, y downwards.
  EXPECT_EQ(predicate({40, 20, 60, 42}, {20, 40, 80, 90}), "on");           // cup resting on a table top
  EXPECT_EQ(predicate({35, 70, 60, 90}, {20, 30, 80, 90}), "under");        // dog under the table, same ground
  EXPECT_EQ(predicate({40, 30, 50, 40}, {20, 20, 80, 80}), "inside");       // well within, off the ground line
  EXPECT_EQ(predicate({10, 40, 30, 80}, {50, 30, 75, 80}), "next to");      // side by side, apart
  EXPECT_EQ(predicate({30, 50, 50, 95}, {40, 20, 80, 85}), "in front of");  // overlapping, bottom lower
  EXPECT_EQ(predicate({30, 20, 50, 60}, {40, 25, 90, 90}), "behind");       // overlapping, bottom higher
  EXPECT_EQ(predicate({0, 0, 10, 10}, {80, 80, 100, 100}), "");             // far apart: nothing clear
  EXPECT_EQ(predicate({0, 40, 10, 50}, {70, 40, 100, 60}), "");             // same row but far: not "next to"
  // Roles matter: the table is not on the cup, nor in front of the child.
  EXPECT_NE(predicate({20, 40, 80, 90}, {40, 20, 60, 42}), "on");
  EXPECT_EQ(predicate({40, 20, 80, 85}, {30, 50, 50, 95}), "behind");
}

TEST(DerivedVsg, RelationsRespectHandMadeBoxes) {
  const torch::Tensor boxes = boxes_of({
      {20, 40, 80, 90},  // 0 table
      {40, 20, 60, 42},  // 1 cup on the table
      {21, 41, 80, 89},  // 2 near-duplicate of the table
      {0, 0, 4, 4},      // 3 a speck in the corner
      {20, 20, 80, 90},  // 4 a proposal covering cup and table together
  });
  SceneGraph g = derive_from_boxes(boxes, 100, 100);
  EXPECT_TRUE(g.objects.empty());
  const VsgRelation* cup_table = find(g, 0, 1);
  ASSERT_NE(cup_table, nullptr);
  EXPECT_EQ(cup_table->subject, 1);  // the smaller region is the subject
  EXPECT_EQ(cup_table->object, 0);
  EXPECT_EQ(cup_table->predicate, "on");
  EXPECT_EQ(cup_table->union_region, 4);  // region 4 is the pair's union box
  EXPECT_EQ(find(g, 0, 2), nullptr);      // the same table twice is no relation
  std::set<std::pair<int64_t, int64_t>> seen;
  for (const auto& r : g.relations) {
    EXPECT_NE(r.subject, r.object);
    EXPECT_TRUE(seen.insert({std::min(r.subject, r.object), std::max(r.subject, r.object)}).second) << "pair twice";
    auto area = [&](int64_t k) { return ((boxes[k][2] - boxes[k][0]) * (boxes[k][3] - boxes[k][1])).item<float>(); };
    EXPECT_LE(area(r.subject), area(r.object));
  }
  // Ranked: the close pair of large regions first, the far speck last.
  DeriveOptions one;
  one.max_relations = 1;
  SceneGraph top = derive_from_boxes(boxes, 100, 100, one);
  ASSERT_EQ(top.relations.size(), 1u);
  EXPECT_EQ(top.relations[0].subject, g.relations[0].subject);
  EXPECT_EQ(top.relations[0].object, g.relations[0].object);
  EXPECT_TRUE(g.relations.back().subject == 3 || g.relations.back().object == 3);
  EXPECT_NE(g.relations.front().subject, 3);
}

TEST(DerivedVsg, BoundedPerImageAndScaleInvariant) {
  torch::manual_seed(3);
  torch::Tensor corner = torch::rand({36, 2}) * 400, size = torch::rand({36, 2}) * 200 + 10;
  torch::Tensor boxes = torch::cat({corner, (corner + size).clamp_max(640)}, 1);
  DeriveOptions options;
  options.max_relations = 5;
  SceneGraph g = derive_from_boxes(boxes, 640, 480, options);
  EXPECT_EQ(g.relations.size(), 5u);
  // Pixels or any other unit: the same graph.
  SceneGraph scaled = derive_from_boxes(boxes * 0.5, 320, 240, options);
  ASSERT_EQ(scaled.relations.size(), g.relations.size());
  for (size_t r = 0; r < g.relations.size(); ++r) {
    EXPECT_EQ(scaled.relations[r].subject, g.relations[r].subject);
    EXPECT_EQ(scaled.relations[r].object, g.relations[r].object);
    EXPECT_EQ(scaled.relations[r].predicate, g.relations[r].predicate);
  }
  EXPECT_TRUE(derive_from_boxes(boxes.narrow(0, 0, 1), 640, 480).relations.empty());  // one region: no pair
}

TEST(DerivedVsg, FeaturePairsFollowSimilarity) {
  torch::Tensor f = torch::zeros({4, 3});
  f[0] = torch::tensor({1.0f, 0.0f, 0.0f});
  f[1] = torch::tensor({0.8f, 0.6f, 0.0f});    // cos 0.8 with 0
  f[2] = torch::tensor({1.0f, -0.01f, 0.0f});  // a twin of 0 (cos > 0.95), cos 0.79 with 1
  f[3] = torch::tensor({0.0f, 0.0f, 1.0f});    // unlike the rest
  DeriveOptions options;
  options.neighbours = 1;
  SceneGraph g = derive_from_features(f, options);
  EXPECT_EQ(find(g, 0, 2), nullptr);
  ASSERT_FALSE(g.relations.empty());
  EXPECT_EQ(g.relations[0].subject, 0);  // best pair first, subject = the region listed first
  EXPECT_EQ(g.relations[0].object, 1);
  for (const auto& r : g.relations) {
    EXPECT_LT(r.subject, r.object);
    EXPECT_TRUE(r.predicate.empty());
    EXPECT_EQ(r.union_region, -1);
  }
}

TEST(DerivedVsg, DerivedFileRoundTripsThroughReaderAndLoader) {
  TempDir t;
  torch::manual_seed(5);
  const int64_t n = 3, R = 8;
  write_npy(t.path() + "/test_ims.npy", torch::randn({n, R, 6}));
  std::ofstream(t.path() + "/test_caps.txt") << "a cup on a table\na dog under a table\na man next to a car\n";
  torch::Tensor corner = torch::rand({n, R, 2}) * 50, size = torch::rand({n, R, 2}) * 40 + 1;
  write_npy(t.path() + "/test_ims_bbx.npy", torch::cat({corner, corner + size}, 2));
  write_npy(t.path() + "/test_ims_size.npy", torch::full({n, 2}, 100.0f));

  LoadOptions o;
  o.scene_graphs = true;
  Split derived = load_split(t.path(), "test", o);
  EXPECT_EQ(derived.relation_source, RelationSource::Boxes);
  ASSERT_EQ(derived.scene_graphs.size(), size_t(n));
  int64_t labelled = 0, total = 0;
  for (const auto& g : derived.scene_graphs) {
    EXPECT_FALSE(g.relations.empty());
    for (const auto& r : g.relations) labelled += !r.predicate.empty(), ++total;
  }
  EXPECT_GT(total, labelled);  // some relations carry no label, and must survive the trip as such

  write_scene_graphs(t.path() + "/test_vsg.jsonl", derived.scene_graphs);
  EXPECT_FALSE(fs::exists(t.path() + "/test_vsg.jsonl.tmp." + std::to_string(::getpid())));
  Split given = load_split(t.path(), "test", o);
  EXPECT_EQ(given.relation_source, RelationSource::Given);
  ASSERT_EQ(given.scene_graphs.size(), derived.scene_graphs.size());
  for (int64_t i = 0; i < n; ++i) {
    const auto& a = derived.scene_graphs[i].relations;
    const auto& b = given.scene_graphs[i].relations;
    ASSERT_EQ(a.size(), b.size()) << "image " << i;
    for (size_t r = 0; r < a.size(); ++r) {
      EXPECT_EQ(a[r].subject, b[r].subject);
      EXPECT_EQ(a[r].object, b[r].object);
      EXPECT_EQ(a[r].predicate, b[r].predicate);
      EXPECT_EQ(a[r].union_region, b[r].union_region);
    }
  }

  // Asked for explicitly, the boxes win over the file; without boxes, auto falls to the features.
  o.relations = RelationSource::Boxes;
  EXPECT_EQ(load_split(t.path(), "test", o).relation_source, RelationSource::Boxes);
  o.relations = RelationSource::None;
  Split none = load_split(t.path(), "test", o);
  EXPECT_EQ(none.relation_source, RelationSource::None);
  for (const auto& g : none.scene_graphs) EXPECT_TRUE(g.relations.empty());
  fs::remove(t.path() + "/test_vsg.jsonl");
  fs::remove(t.path() + "/test_ims_bbx.npy");
  o.relations = RelationSource::Auto;
  Split features = load_split(t.path(), "test", o);
  EXPECT_EQ(features.relation_source, RelationSource::Features);
  EXPECT_FALSE(features.scene_graphs[0].relations.empty());
  o.relations = RelationSource::Given;
  EXPECT_THROW(load_split(t.path(), "test", o), Error);
}

TEST(DerivedVsg, ReaderTakesUnlabelledRelationsAndChecksUnions) {
  TempDir t;
  write_npy(t.path() + "/test_ims.npy", torch::randn({1, 4, 6}));
  std::ofstream(t.path() + "/test_caps.txt") << "a cup on a table\n";
  const std::string vsg = t.path() + "/test_vsg.jsonl";
  LoadOptions o;
  o.scene_graphs = true;
  std::ofstream(vsg)
      << R"({"relations": [{"subject": 0, "object": 1}, {"subject": 2, "predicate": "on", "object": 3, "union": 1}]})"
      << "\n";
  Split s = load_split(t.path(), "test", o);
  ASSERT_EQ(s.scene_graphs[0].relations.size(), 2u);
  EXPECT_EQ(s.scene_graphs[0].relations[0].predicate, "");
  EXPECT_EQ(s.scene_graphs[0].relations[1].union_region, 1);
  auto error_of = [&](const std::string& line) {
    std::ofstream(vsg) << line << "\n";
    try {
      load_split(t.path(), "test", o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of(R"({"relations": [{"subject": 0, "object": 1, "union": 4}]})").find("test_vsg.jsonl:1"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"relations": [{"subject": 0, "object": 1, "predicate": " "}]})").find("empty predicate"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"relations": [{"subject": 0, "object": 1, "union": "a"}]})").find("'union'"),
            std::string::npos);
}

TEST(DerivedVsg, RelationSourceNames) {
  for (const char* name : {"auto", "given", "boxes", "features", "none"})
    EXPECT_STREQ(relation_source_name(parse_relation_source(name)), name);
  EXPECT_THROW(parse_relation_source("derived"), Error);
  EXPECT_STREQ(describe_relation_source(RelationSource::Boxes), "derived from boxes");
}
