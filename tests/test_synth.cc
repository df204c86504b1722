#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/error.h"
#include "scenematch/data/npy.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/synth/captions.h"
#include "scenematch/synth/features.h"
#include "scenematch/synth/generator.h"
#include "scenematch/synth/world.h"
#include "scenematch/text/caption_parser.h"
#include "support/temp_dir.h"

using namespace sm;
using namespace sm::synth;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kFiles[] = {"ims.npy",     "ims_bbx.npy", "ims_size.npy", "vsg.jsonl",
                        "vsg_rel.npy", "caps.txt",    "caps_gt.jsonl"};

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The tiny world, written once for the whole file: by the CLI with the
// default noise, and through the library with a clean scene graph.
class SynthWorld : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = std::make_unique<sm::testing::TempDir>("sm_test_synth");
    root_ = temp_->path();
    std::string cmd = cat(SCENEMATCH_CLI, " synth --out '", dir("cli"), "' --preset tiny --seed 7 --quiet > '",
                          dir("cli.out"), "' 2>&1");
    cli_rc_ = std::system(cmd.c_str());
    SynthOptions clean = preset_options("tiny");
    clean.seed = 7;
    clean.noise = 0;
    generate_dataset(dir("clean"), clean);
  }
  static void TearDownTestSuite() { temp_.reset(); }
  static std::string dir(const std::string& name) { return (root_ / name).string(); }
  static std::string file(const std::string& which, const std::string& split, const std::string& suffix) {
    return dir(which) + "/" + split + "_" + suffix;
  }
  static int64_t count_of(const std::string& split) {
    SynthOptions o = preset_options("tiny");
    return split == "train" ? o.train : split == "dev" ? o.dev : o.test;
  }

  static std::unique_ptr<sm::testing::TempDir> temp_;  // holds root_
  static fs::path root_;
  static int cli_rc_;
};
std::unique_ptr<sm::testing::TempDir> SynthWorld::temp_;
fs::path SynthWorld::root_;
int SynthWorld::cli_rc_ = -1;

TEST(SynthLexicon, IsLargeEnoughAndEveryPredicateIsUsable) {
  const World& w = world();
  EXPECT_GE(w.categories.size(), 80u);
  EXPECT_GE(w.attributes.size(), 30u);
  EXPECT_GE(w.predicates.size(), 25u);
  std::set<Kind> kinds;
  for (const Category& c : w.categories) kinds.insert(c.kind);
  EXPECT_EQ(kinds.size(), 9u);
  for (const Predicate& p : w.predicates) {
    int pairs = 0;
    for (const Category& s : w.categories)
      for (const Category& o : w.categories) pairs += &s != &o && p.allows(s, o);
    EXPECT_GT(pairs, 0) << p.name;
  }
  // Type constraints do reject implausible pairs.
  const Predicate& riding = w.predicates[w.predicate_index("riding")];
  const Category& man = w.categories[w.category_index("man")];
  const Category& horse = w.categories[w.category_index("horse")];
  const Category& cup = w.categories[w.category_index("cup")];
  EXPECT_TRUE(riding.allows(man, horse));
  EXPECT_FALSE(riding.allows(horse, man));
  EXPECT_FALSE(riding.allows(cup, horse));
}

TEST(SynthScene, GeometryHoldsForEveryPredicateAndInstance) {
  const World& w = world();
  std::map<std::string, int> seen;
  // Per geometry: instances, and those whose boxes also hold it with subject
  // and object exchanged (all of them exactly for the symmetric layouts).
  std::map<Geometry, std::pair<int, int>> exchanged;
  for (int i = 0; i < 3000; ++i) {
    Rng rng(mix_seed(11, i));
    Scene scene = sample_scene(rng, {});
    ASSERT_EQ(scene.regions.size(), 36u);
    int instances = scene.num_instances();
    EXPECT_GE(instances, 2);
    EXPECT_LE(instances, 6);
    EXPECT_GE(scene.relations.size(), 1u);
    EXPECT_LE(scene.relations.size(), 4u);
    for (const Relation& r : scene.relations) {
      const Predicate& p = w.predicates[r.predicate];
      ++seen[p.name];
      const Entity& subject = scene.entities[r.subject];
      const Entity& object = scene.entities[r.object];
      EXPECT_TRUE(p.allows(w.categories[subject.category], w.categories[object.category])) << p.name;
      // Every instance of the placed entity against the anchor's first instance.
      bool subject_placed = r.anchor == r.object;
      const Entity& placed = subject_placed ? subject : object;
      const Box& anchor = scene.entities[r.anchor].boxes[0];
      for (const Box& b : placed.boxes) {
        const Box& s = subject_placed ? b : anchor;
        const Box& o = subject_placed ? anchor : b;
        EXPECT_TRUE(geometry_holds(p.geometry, s, o)) << "scene " << i << ": " << p.name;
        ++exchanged[p.geometry].first;
        exchanged[p.geometry].second += geometry_holds(p.geometry, o, s);
      }
    }
    for (const Region& region : scene.regions) {
      EXPECT_GE(region.box.x1, 0.f);
      EXPECT_GE(region.box.y1, 0.f);
      EXPECT_LE(region.box.x2, scene.width);
      EXPECT_LE(region.box.y2, scene.height);
      EXPECT_GT(region.box.w(), 0.f);
      EXPECT_GT(region.box.h(), 0.f);
    }
    for (size_t e = 0; e < scene.entities.size(); ++e)
      for (int i2 = 0; i2 < scene.entities[e].count; ++i2) {
        const Region& region = scene.regions[scene.entities[e].regions[i2]];
        EXPECT_EQ(region.kind, RegionKind::Object);
        EXPECT_EQ(region.entity, static_cast<int>(e));
      }
  }
  for (const Predicate& p : w.predicates) EXPECT_GT(seen[p.name], 0) << p.name << " never generated";
  for (const auto& [g, counts] : exchanged)
    EXPECT_EQ(counts.second, symmetric_layout(g) ? counts.first : 0) << geometry_name(g) << " of " << counts.first;
}

// A distractor is an unrelated twin of a related single object: same
// category, none of its attributes, so only the relation tells them apart.
TEST(SynthScene, DistractorsTwinARelatedObjectWithContrastingAttributes) {
  SceneOptions options;
  options.distractors = 1.0;
  int twins = 0, contrasted = 0;
  for (int i = 0; i < 500; ++i) {
    Rng rng(mix_seed(11, i));
    const Scene scene = sample_scene(rng, options);
    std::set<int> related;
    for (const Relation& r : scene.relations) related.insert({r.subject, r.object});
    const Entity& last = scene.entities.back();
    const int last_index = static_cast<int>(scene.entities.size()) - 1;
    int original = -1;
    for (int k : related)
      if (scene.entities[k].category == last.category && scene.entities[k].count == 1) original = k;
    if (original < 0) {  // only groups were related: no twin
      for (int k : related) EXPECT_GT(scene.entities[k].count, 1) << "scene " << i;
      continue;
    }
    ++twins;
    EXPECT_EQ(related.count(last_index), 0u) << "scene " << i << ": the twin takes part in no relation";
    EXPECT_EQ(last.count, 1);
    EXPECT_EQ(last.regions.size(), 1u);
    EXPECT_EQ(scene.regions[last.regions[0]].kind, RegionKind::Object);
    const Entity& o = scene.entities[original];
    for (int a : last.attributes)
      EXPECT_EQ(std::count(o.attributes.begin(), o.attributes.end(), a), 0) << "scene " << i;
    contrasted += !o.attributes.empty() && !last.attributes.empty();
  }
  EXPECT_GT(twins, 400);
  EXPECT_GT(contrasted, twins / 2);
  // Off (the default), a scene never repeats a category.
  for (int i = 0; i < 200; ++i) {
    Rng rng(mix_seed(11, i));
    const Scene scene = sample_scene(rng, {});
    std::set<int> categories;
    for (const Entity& e : scene.entities) EXPECT_TRUE(categories.insert(e.category).second) << "scene " << i;
  }
}

TEST(SynthScene, GeometryChecksCanFail) {
  Box top{10, 0, 30, 20}, bottom{0, 15, 40, 40}, far{100, 15, 120, 40};
  EXPECT_TRUE(geometry_holds(Geometry::OnTop, top, bottom));
  EXPECT_FALSE(geometry_holds(Geometry::OnTop, bottom, top));
  EXPECT_FALSE(geometry_holds(Geometry::OnTop, top, far));
  EXPECT_TRUE(geometry_holds(Geometry::Under, bottom, top));
  EXPECT_FALSE(geometry_holds(Geometry::Under, top, bottom));
  EXPECT_TRUE(geometry_holds(Geometry::SideApart, bottom, far));
  EXPECT_FALSE(geometry_holds(Geometry::SideApart, top, bottom));
  EXPECT_TRUE(geometry_holds(Geometry::Behind, top, bottom));
  EXPECT_FALSE(geometry_holds(Geometry::Behind, bottom, top));
  EXPECT_TRUE(geometry_holds(Geometry::Front, bottom, top));
  Box inner{12, 20, 20, 30};
  EXPECT_TRUE(geometry_holds(Geometry::Inside, inner, bottom));
  EXPECT_FALSE(geometry_holds(Geometry::Inside, bottom, inner));
  EXPECT_TRUE(geometry_holds(Geometry::Contains, bottom, inner));
}

// Mean-pooling the regions cannot tell "a man chasing a dog" from "a dog
// chasing a man"; the regions themselves can. Compared on the expected
// features (averaged over noise draws), since noise differs anyway.
TEST(SynthFeatures, RolesBindToRegionsNotToThePool) {
  const World& w = world();
  Scene scene;
  scene.width = scene.height = 100;
  for (const char* noun : {"man", "dog"}) {
    Entity e;
    e.category = w.category_index(noun);
    e.boxes = {{0, 0, 10, 10}};
    e.regions = {static_cast<int>(scene.regions.size())};
    scene.entities.push_back(e);
    scene.regions.push_back({e.boxes[0], RegionKind::Object, static_cast<int>(scene.entities.size()) - 1, 0, 0});
  }
  Scene swapped = scene;
  int chasing = w.predicate_index("chasing");
  scene.relations = {{0, chasing, 1, 0}};
  swapped.relations = {{1, chasing, 0, 0}};
  const int F = 512, draws = 300;
  FeatureModel model(3, F);
  std::vector<double> a(2 * F), b(2 * F);
  std::vector<float> draw(2 * F);
  Rng ra(5), rb(6);
  for (int k = 0; k < draws; ++k) {
    model.regions(scene, ra, draw.data());
    for (int d = 0; d < 2 * F; ++d) {
      EXPECT_GE(draw[d], 0.f);
      a[d] += draw[d] / draws;
    }
    model.regions(swapped, rb, draw.data());
    for (int d = 0; d < 2 * F; ++d) b[d] += draw[d] / draws;
  }
  double pooled = 0, region = 0, norm = 0;
  for (int d = 0; d < F; ++d) {
    pooled += std::pow((a[d] + a[F + d]) - (b[d] + b[F + d]), 2);
    region += std::pow(a[d] - b[d], 2);
    norm += std::pow(a[d], 2);
  }
  EXPECT_GT(region, 0.3 * norm);    // the man's region changes a lot with its role
  EXPECT_LT(pooled, 0.1 * region);  // the pool hardly changes
}

// A relation reported untraced leaves its regions exactly as with no role
// prototype at all; a traced one does not.
TEST(SynthFeatures, UntracedRelationsLeaveNoRoleInTheirRegions) {
  const SynthOptions o = preset_options("tiny");
  const Scene scene = generated_scene(o, "train", 3);
  const int F = 64;
  const size_t n = scene.regions.size() * F;
  std::vector<float> dropped(n), roleless(n), traced(n);
  FeatureWeights all_dropped, no_role, kept;
  all_dropped.trace_dropout = 1.0f;
  no_role.role = 0.0f;
  no_role.trace_dropout = 1.0f;  // the same random draws as all_dropped
  kept.trace_dropout = 1e-9f;    // drawn, but never dropped
  Rng r1(9), r2(9), r3(9);
  const std::vector<char> silent = FeatureModel(3, F, all_dropped).regions(scene, r1, dropped.data());
  FeatureModel(3, F, no_role).regions(scene, r2, roleless.data());
  const std::vector<char> none = FeatureModel(3, F, kept).regions(scene, r3, traced.data());
  ASSERT_EQ(silent.size(), scene.relations.size());
  for (char s : silent) EXPECT_TRUE(s);
  for (char s : none) EXPECT_FALSE(s);
  EXPECT_EQ(dropped, roleless);
  EXPECT_NE(dropped, traced);
}

// The predicate a relation-swap probe's positive says: its longest surface
// form found there as whole words ("sitting on", not "on").
static const Predicate& predicate_of(const std::string& positive) {
  const Predicate* found = nullptr;
  size_t longest = 0;
  const std::string words = " " + positive + " ";
  for (const Predicate& p : world().predicates)
    for (const std::string& surface : p.surfaces)
      if (surface.size() > longest && words.find(" " + surface + " ") != std::string::npos)
        found = &p, longest = surface.size();
  if (!found) throw std::runtime_error("no predicate in \"" + positive + "\"");
  return *found;
}

// The kinds that repeat a relation-swap probe (relation-swap-reversed is a
// probe of its own).
static bool is_relation_swap_copy(const std::string& kind) {
  return kind.rfind("relation-swap-", 0) == 0 && kind != "relation-swap-reversed";
}

// With trace dropout, each relation swap is written again, same image, texts
// and subset, under relation-swap-traced or relation-swap-untraced, and an
// untraced one also under relation-swap-scene-graph-only exactly when its
// predicate's boxes stand side by side.
TEST(SynthProbes, RelationSwapsAreRepeatedUnderWhatShowsTheirDirection) {
  const sm::testing::TempDir temp("sm_synth_untraced");
  SynthOptions o = preset_options("tiny");
  o.trace_dropout = 0.5;
  generate_dataset(temp.file("world"), o);
  std::map<std::string, json> swaps;                    // by image
  std::map<std::string, std::set<std::string>> copies;  // kinds by image
  for (const std::string& line : lines_of(temp.file("world/test_probes.jsonl"))) {
    json p = json::parse(line);
    const std::string image = std::to_string(p.at("image").get<int>()), kind = p.at("kind");
    if (kind == "relation-swap") swaps[image] = p;
    if (!is_relation_swap_copy(kind)) continue;
    ASSERT_TRUE(swaps.count(image)) << line;  // written right after its swap
    json same = swaps[image];
    same["kind"] = kind;
    EXPECT_EQ(p, same);
    copies[image].insert(kind);
  }
  int untraced = 0, scene_graph_only = 0;
  for (const auto& [image, swap] : swaps) {
    const std::set<std::string>& kinds = copies[image];
    const bool is_untraced = kinds.count("relation-swap-untraced") > 0;
    EXPECT_NE(is_untraced, kinds.count("relation-swap-traced") > 0) << image;
    const bool side_by_side = symmetric_layout(predicate_of(swap.at("positive")).geometry);
    EXPECT_EQ(kinds.count("relation-swap-scene-graph-only") > 0, is_untraced && side_by_side) << swap.at("positive");
    untraced += is_untraced;
    scene_graph_only += kinds.count("relation-swap-scene-graph-only") > 0;
  }
  // About half of the swapped relations lost their trace, and some of those
  // stand side by side.
  EXPECT_GT(untraced, static_cast<int>(swaps.size()) / 4);
  EXPECT_LT(untraced, 3 * static_cast<int>(swaps.size()) / 4);
  EXPECT_GT(scene_graph_only, 0);
}

// Without trace dropout no relation swap is repeated.
TEST(SynthProbes, NoCopiesWithoutTraceDropout) {
  const sm::testing::TempDir temp("sm_synth_traced");
  generate_dataset(temp.file("world"), preset_options("tiny"));
  for (const std::string& line : lines_of(temp.file("world/test_probes.jsonl"))) {
    EXPECT_FALSE(is_relation_swap_copy(json::parse(line).at("kind"))) << line;
  }
}

TEST_F(SynthWorld, CliSetsTheSplitSizes) {
  std::string cmd = cat(SCENEMATCH_CLI, " synth --out '", dir("sized"), "' --preset tiny --images 4,2,3 --quiet > '",
                        dir("sized.out"), "' 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(dir("sized.out"));
  for (auto [split, n] : {std::pair<std::string, int64_t>{"train", 4}, {"dev", 2}, {"test", 3}}) {
    EXPECT_EQ(NpyArray::open(file("sized", split, "ims.npy")).shape(), (std::vector<int64_t>{n, 36, 64})) << split;
    EXPECT_EQ(static_cast<int64_t>(lines_of(file("sized", split, "caps.txt")).size()), 5 * n) << split;
  }
  cmd = cat(SCENEMATCH_CLI, " synth --out '", dir("bad"), "' --images 4,2 > '", dir("bad.out"), "' 2>&1");
  EXPECT_NE(std::system(cmd.c_str()), 0);
  EXPECT_NE(read_file(dir("bad.out")).find("--images"), std::string::npos) << read_file(dir("bad.out"));
}

TEST_F(SynthWorld, CliWritesEveryFileOfTheContract) {
  ASSERT_EQ(cli_rc_, 0) << read_file(dir("cli.out"));
  EXPECT_NE(read_file(dir("cli.out")).find("relation-swap"), std::string::npos);
  const World& w = world();
  for (const std::string& split : split_names()) {
    const int64_t n = count_of(split);
    for (const char* f : kFiles) EXPECT_TRUE(fs::exists(file("cli", split, f))) << split << " " << f;
    EXPECT_EQ(fs::exists(file("cli", split, "probes.jsonl")), split != "train");

    NpyArray ims = NpyArray::open(file("cli", split, "ims.npy"));
    EXPECT_EQ(ims.shape(), (std::vector<int64_t>{n, 36, 64}));
    NpyArray bbx = NpyArray::open(file("cli", split, "ims_bbx.npy"));
    EXPECT_EQ(bbx.shape(), (std::vector<int64_t>{n, 36, 4}));
    NpyArray sizes = NpyArray::open(file("cli", split, "ims_size.npy"));
    EXPECT_EQ(sizes.shape(), (std::vector<int64_t>{n, 2}));
    NpyArray rel = NpyArray::open(file("cli", split, "vsg_rel.npy"));
    EXPECT_EQ(rel.shape(), (std::vector<int64_t>{n, kMaxRelations, 64}));

    // Features: finite, non-negative, sparse-ish.
    auto features = ims.rows(0, n);
    EXPECT_TRUE(torch::isfinite(features).all().item<bool>());
    EXPECT_GE(features.min().item<float>(), 0.f);
    double zeros = (features == 0).to(torch::kFloat64).mean().item<double>();
    EXPECT_GT(zeros, 0.3);
    EXPECT_LT(zeros, 0.95);

    auto boxes = bbx.rows(0, n), wh = sizes.rows(0, n);
    EXPECT_TRUE((boxes.select(2, 0) >= 0).all().item<bool>());
    EXPECT_TRUE((boxes.select(2, 1) >= 0).all().item<bool>());
    EXPECT_TRUE((boxes.select(2, 2) <= wh.select(1, 0).unsqueeze(1)).all().item<bool>());
    EXPECT_TRUE((boxes.select(2, 3) <= wh.select(1, 1).unsqueeze(1)).all().item<bool>());
    EXPECT_TRUE((boxes.select(2, 2) > boxes.select(2, 0)).all().item<bool>());

    auto caps = lines_of(file("cli", split, "caps.txt"));
    EXPECT_EQ(static_cast<int64_t>(caps.size()), 5 * n);
    EXPECT_EQ(static_cast<int64_t>(lines_of(file("cli", split, "caps_gt.jsonl")).size()), 5 * n);
    auto graphs = lines_of(file("cli", split, "vsg.jsonl"));
    ASSERT_EQ(static_cast<int64_t>(graphs.size()), n);
    auto relation_rows = rel.rows(0, n);
    for (int64_t i = 0; i < n; ++i) {
      json g = json::parse(graphs[i]);
      for (const json& o : g.at("objects")) {
        EXPECT_LT(o.at("region").get<int>(), 36);
        EXPECT_GE(w.category_index(o.at("label").get<std::string>()), 0);
      }
      int64_t relations = static_cast<int64_t>(g.at("relations").size());
      ASSERT_LE(relations, kMaxRelations);
      for (const json& r : g.at("relations")) {
        EXPECT_LT(r.at("subject").get<int>(), 36);
        EXPECT_LT(r.at("object").get<int>(), 36);
        EXPECT_GE(w.predicate_index(r.at("predicate").get<std::string>()), 0);
      }
      // Rows past the relation count are zero; the others are not.
      for (int64_t k = 0; k < kMaxRelations; ++k)
        EXPECT_EQ(relation_rows[i][k].abs().sum().item<float>() > 0, k < relations) << split << " " << i;
    }
  }
}

TEST_F(SynthWorld, SameSeedSameBytesOtherSeedOtherBytes) {
  SynthOptions o = preset_options("tiny");
  o.seed = 7;
  generate_dataset(dir("again"), o);
  for (const std::string& split : split_names()) {
    std::vector<std::string> files(std::begin(kFiles), std::end(kFiles));
    if (split != "train") files.push_back("probes.jsonl");
    for (const std::string& f : files)
      EXPECT_EQ(file_hash_hex(file("cli", split, f)), file_hash_hex(file("again", split, f))) << split << " " << f;
  }
  o.seed = 8;
  o.train = 5, o.dev = 2, o.test = 2;
  generate_dataset(dir("other"), o);
  EXPECT_NE(lines_of(file("other", "train", "caps.txt"))[0], lines_of(file("cli", "train", "caps.txt"))[0]);
  EXPECT_FALSE(torch::equal(NpyArray::open(file("other", "train", "ims.npy")).rows(0, 1),
                            NpyArray::open(file("cli", "train", "ims.npy")).rows(0, 1)));
}

// Relations of the clean scene graph, read back from the files, show their
// predicate's geometry in the written boxes.
TEST_F(SynthWorld, WrittenBoxesShowEachPredicatesGeometry) {
  const World& w = world();
  std::set<std::string> seen;
  for (const std::string& split : split_names()) {
    auto graphs = lines_of(file("clean", split, "vsg.jsonl"));
    auto boxes = NpyArray::open(file("clean", split, "ims_bbx.npy")).rows(0, count_of(split));
    for (size_t i = 0; i < graphs.size(); ++i) {
      json g = json::parse(graphs[i]);
      EXPECT_GE(g.at("relations").size(), 1u);
      auto box = [&](int r) {
        auto b = boxes[i][r];
        return Box{b[0].item<float>(), b[1].item<float>(), b[2].item<float>(), b[3].item<float>()};
      };
      for (const json& r : g.at("relations")) {
        std::string name = r.at("predicate");
        seen.insert(name);
        Geometry geometry = w.predicates[w.predicate_index(name)].geometry;
        EXPECT_TRUE(geometry_holds(geometry, box(r.at("subject")), box(r.at("object")), 1e-2f))
            << split << " image " << i << ": " << r.dump();
      }
    }
  }
  EXPECT_GE(seen.size(), 20u);
}

TEST_F(SynthWorld, CaptionsMentionARelationAndMatchTheirGroundTruth) {
  for (const std::string& split : split_names()) {
    auto caps = lines_of(file("clean", split, "caps.txt"));
    auto gts = lines_of(file("clean", split, "caps_gt.jsonl"));
    ASSERT_EQ(caps.size(), gts.size());
    for (size_t c = 0; c < caps.size(); ++c) {
      std::vector<std::string> tokens = tokenize(caps[c]);
      std::string padded = " " + caps[c] + " ";
      auto has_words = [&](const std::string& words) { return padded.find(" " + words + " ") != std::string::npos; };
      json gt = json::parse(gts[c]);
      ASSERT_GE(gt.at("relations").size(), 1u) << caps[c];
      for (const json& r : gt.at("relations")) {
        EXPECT_TRUE(has_words(r.at("subject"))) << caps[c];
        EXPECT_TRUE(has_words(r.at("predicate"))) << caps[c];
        EXPECT_TRUE(has_words(r.at("object"))) << caps[c];
      }
      for (const json& o : gt.at("objects")) {
        EXPECT_TRUE(has_words(o.at("word"))) << caps[c];
        for (const json& a : o.at("attributes")) EXPECT_TRUE(has_words(a)) << caps[c];
        int count = o.at("count");
        if (count > 1) {
          EXPECT_TRUE(has_words(count == 2 ? "two" : "three")) << caps[c];
        }
      }
    }
    // Five distinct captions per image.
    for (size_t i = 0; i + 5 <= caps.size(); i += 5)
      EXPECT_EQ(std::set<std::string>(caps.begin() + i, caps.begin() + i + 5).size(), 5u);
  }
}

// Which category a caption noun (singular, plural or synonym) names.
int category_of_word(const std::string& word) {
  const World& w = world();
  for (size_t c = 0; c < w.categories.size(); ++c) {
    const Category& cat = w.categories[c];
    if (cat.noun.singular == word || cat.noun.plural == word) return static_cast<int>(c);
    for (const Noun& s : cat.synonyms)
      if (s.singular == word || s.plural == word) return static_cast<int>(c);
  }
  return -1;
}
bool is_attribute(const std::string& word) {
  for (const Attribute& a : world().attributes)
    if (a.word == word) return true;
  return false;
}
bool is_number(const std::string& word) { return word == "a" || word == "one" || word == "two" || word == "three"; }

TEST_F(SynthWorld, ProbesDifferOnlyAsTheirKindSays) {
  for (const char* split : {"dev", "test"}) {
    auto graphs = lines_of(file("clean", split, "vsg.jsonl"));
    std::map<std::string, int> kinds;
    for (const std::string& line : lines_of(file("clean", split, "probes.jsonl"))) {
      json p = json::parse(line);
      std::string kind = p.at("kind");
      ++kinds[kind];
      ASSERT_EQ(p.at("negatives").size(), 1u);
      auto pos = tokenize(p.at("positive")), neg = tokenize(p.at("negatives")[0]);
      for (auto* t : {&pos, &neg})
        for (std::string& word : *t)
          if (word == "an") word = "a";  // the article follows the next word
      ASSERT_NE(pos, neg) << line;
      std::vector<size_t> diff;
      if (pos.size() == neg.size())
        for (size_t i = 0; i < pos.size(); ++i)
          if (pos[i] != neg[i]) diff.push_back(i);
      if (kind == "relation-swap") {
        auto a = pos, b = neg;
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        EXPECT_EQ(a, b) << line;
        ++kinds[std::string("relation-swap ") + p.at("subset").get<std::string>()];
      } else if (kind == "attribute-swap") {
        ASSERT_EQ(diff.size(), 2u) << line;
        EXPECT_EQ(pos[diff[0]], neg[diff[1]]) << line;
        EXPECT_EQ(pos[diff[1]], neg[diff[0]]) << line;
        EXPECT_TRUE(is_attribute(pos[diff[0]]) && is_attribute(pos[diff[1]])) << line;
      } else if (kind == "object-swap") {
        ASSERT_EQ(diff.size(), 1u) << line;
        int replaced = category_of_word(neg[diff[0]]);
        ASSERT_GE(replaced, 0) << line;
        ASSERT_GE(category_of_word(pos[diff[0]]), 0) << line;
        json g = json::parse(graphs[p.at("image").get<size_t>()]);
        for (const json& o : g.at("objects"))
          EXPECT_NE(o.at("label").get<std::string>(), world().categories[replaced].noun.singular) << line;
      } else if (kind == "count") {
        ASSERT_FALSE(diff.empty()) << line;
        bool number_changed = false;
        for (size_t i : diff) {
          if (is_number(pos[i]) && is_number(neg[i])) {
            number_changed = true;
          } else {  // the noun's number follows
            EXPECT_EQ(category_of_word(pos[i]), category_of_word(neg[i])) << line;
            EXPECT_GE(category_of_word(pos[i]), 0) << line;
          }
        }
        EXPECT_TRUE(number_changed) << line;
      } else {
        ADD_FAILURE() << "unknown kind " << kind;
      }
    }
    // One relation-swap, object-swap and count probe per image; attribute-swap where possible.
    EXPECT_EQ(kinds["relation-swap"], count_of(split));
    EXPECT_EQ(kinds["object-swap"], count_of(split));
    EXPECT_EQ(kinds["count"], count_of(split));
    EXPECT_GT(kinds["attribute-swap"], count_of(split) / 10);
    // Every relation swap says whether the image is needed; most are type-valid.
    EXPECT_EQ(kinds["relation-swap type-valid"] + kinds["relation-swap text-implausible"], count_of(split));
    EXPECT_GT(kinds["relation-swap type-valid"], count_of(split) / 2);
  }
}

TEST_F(SynthWorld, DetectorNoiseDropsAndCorruptsTheSceneGraph) {
  int clean_objects = 0, noisy_objects = 0, changed = 0;
  for (const std::string& split : split_names()) {
    auto clean = lines_of(file("clean", split, "vsg.jsonl"));
    auto noisy = lines_of(file("cli", split, "vsg.jsonl"));
    for (size_t i = 0; i < clean.size(); ++i) {
      clean_objects += static_cast<int>(json::parse(clean[i]).at("objects").size());
      noisy_objects += static_cast<int>(json::parse(noisy[i]).at("objects").size());
      changed += clean[i] != noisy[i];
    }
    // Noise touches only the scene graph: captions and features are the same.
    EXPECT_EQ(file_hash_hex(file("clean", split, "caps.txt")), file_hash_hex(file("cli", split, "caps.txt")));
    EXPECT_EQ(file_hash_hex(file("clean", split, "ims.npy")), file_hash_hex(file("cli", split, "ims.npy")));
  }
  EXPECT_LT(noisy_objects, clean_objects);
  EXPECT_GT(changed, 0);
}

// The captions are meant to be parsed: Link Grammar finds a full linkage for
// nearly all of them. (How many ground-truth triplets the parser recovers is
// measured, not asserted here: that is the parser's target.)
TEST_F(SynthWorld, CaptionsParse) {
  CaptionParser parser;
  int full = 0, total = 0, triplets = 0, recovered = 0;
  for (const std::string& split : split_names()) {
    auto caps = lines_of(file("clean", split, "caps.txt"));
    auto gts = lines_of(file("clean", split, "caps_gt.jsonl"));
    for (size_t c = 0; c < caps.size(); ++c) {
      CaptionGraph g = parser.parse(caps[c]);
      ++total;
      full += g.quality == "full";
      const json gt = json::parse(gts[c]);
      for (const json& r : gt.at("relations")) {
        ++triplets;
        for (const SceneRelation& p : g.relations)
          if (p.subject == r.at("subject") && p.predicate == r.at("predicate") && p.object == r.at("object")) {
            ++recovered;
            break;
          }
      }
    }
  }
  std::printf("captions with a full parse: %d/%d; ground-truth triplets recovered: %d/%d\n", full, total, recovered,
              triplets);
  EXPECT_GE(full, 0.95 * total);
}

TEST(SynthOptions, PresetsAndErrors) {
  EXPECT_EQ(preset_options("full").train, 29000);
  EXPECT_EQ(preset_options("full").feat_dim, 2048);
  EXPECT_EQ(preset_options("small").feat_dim, 512);
  EXPECT_THROW(preset_options("huge"), Error);
  SynthOptions o = preset_options("tiny");
  o.feat_dim = 0;
  const sm::testing::TempDir temp("sm_synth_never");
  EXPECT_THROW(generate_dataset(temp.file("world"), o), Error);
}

TEST(SynthOptions, HardPresetTurnsEveryKnob) {
  const SynthOptions small = preset_options("small"), hard = preset_options("hard");
  EXPECT_EQ(hard.train, small.train);
  EXPECT_EQ(hard.feat_dim, small.feat_dim);
  EXPECT_GT(hard.noise, small.noise);
  EXPECT_LT(hard.role_weight, small.role_weight);
  EXPECT_GT(hard.trace_dropout, 0);
  EXPECT_GT(hard.feature_noise, small.feature_noise);
  EXPECT_GT(hard.paraphrase, 0);
  EXPECT_GT(hard.distractors, 0);
  SynthOptions bad = preset_options("tiny");
  bad.paraphrase = 2;
  const sm::testing::TempDir temp("sm_synth_bad_knob");
  EXPECT_THROW(generate_dataset(temp.file("world"), bad), Error);
}

// Paraphrased captions say a relation the other way round and record it as
// written: a passive's agent follows "by" and is the relation's subject.
TEST(SynthCaptions, ParaphraseSaysRelationsTheOtherWayRound) {
  const SynthOptions o = preset_options("tiny");
  int passives = 0, converses = 0;
  for (int64_t i = 0; i < 40; ++i) {
    const Scene scene = generated_scene(o, "train", i);
    Rng rng(static_cast<uint64_t>(i) + 1);
    for (const Caption& c : make_captions(scene, rng, 5, CaptionStyle{1.0})) {
      const std::vector<std::string> tokens = tokenize(c.text);
      const auto by = std::find(tokens.begin(), tokens.end(), "by");
      if (by != tokens.end() && c.relations.size() == 1) {
        ++passives;
        EXPECT_NE(std::find(by, tokens.end(), c.relations[0].subject), tokens.end()) << c.text;
      }
      for (const auto& r : c.relations)
        if (r.predicate == "under" || r.predicate == "containing" || r.predicate == "below") ++converses;
    }
  }
  EXPECT_GT(passives, 0);
  EXPECT_GT(converses, 0);
}

// A relation-swap-reversed probe is its scene's relation swap in the passive
// or converse form: the same two noun phrases around "being <participle> by"
// or the converse place word, in the other order, so the positive's agent
// (after "by") is the active positive's subject.
TEST(SynthProbes, ReversedRelationSwapsSayTheSwapTheOtherWayRound) {
  const SynthOptions o = preset_options("tiny");
  const std::set<std::string> converse_words = {"under", "on", "below", "behind", "in front of", "containing"};
  auto join = [](std::vector<std::string>::const_iterator a, std::vector<std::string>::const_iterator b) {
    std::string out;
    for (; a != b; ++a) out += (out.empty() ? "" : " ") + *a;
    return out;
  };
  int reversed = 0, passive = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const Scene scene = generated_scene(o, "test", i);
    Rng plain_rng(static_cast<uint64_t>(i) + 1), reversed_rng(static_cast<uint64_t>(i) + 1);
    const std::vector<ProbeText> plain = make_probes(scene, plain_rng, false);
    std::vector<ProbeText> with = make_probes(scene, reversed_rng, true);
    const auto extra =
        std::find_if(with.begin(), with.end(), [](const ProbeText& p) { return p.kind == "relation-swap-reversed"; });
    if (extra == with.end()) continue;
    ++reversed;
    const ProbeText r = *extra;
    with.erase(extra);
    // The other probes are drawn exactly as without it.
    ASSERT_EQ(with.size(), plain.size());
    for (size_t k = 0; k < plain.size(); ++k) EXPECT_EQ(with[k].positive, plain[k].positive);
    const ProbeText& swap = plain[0];
    ASSERT_EQ(swap.kind, "relation-swap");
    EXPECT_EQ(r.plausible_swap, swap.plausible_swap);
    // "S pred O" against "S words O": S and O are what the two share.
    const std::vector<std::string> active = tokenize(swap.positive), said = tokenize(r.negative);
    size_t head = 0, tail = 0;
    while (head < active.size() && head < said.size() && active[head] == said[head]) ++head;
    while (tail < active.size() - head && tail < said.size() - head &&
           active[active.size() - 1 - tail] == said[said.size() - 1 - tail])
      ++tail;
    ASSERT_GT(head, 0u) << r.negative;
    ASSERT_GT(tail, 0u) << r.negative;
    const std::string subject = join(active.begin(), active.begin() + head);
    const std::string object = join(active.end() - tail, active.end());
    const std::string words = join(said.begin() + head, said.end() - tail);
    const bool is_passive =
        words.rfind("being ", 0) == 0 && words.size() > 9 && words.substr(words.size() - 3) == " by";
    passive += is_passive;
    EXPECT_TRUE(is_passive || converse_words.count(words)) << r.negative;
    EXPECT_EQ(r.positive, object + " " + words + " " + subject) << swap.positive;
    EXPECT_EQ(r.negative, subject + " " + words + " " + object) << swap.positive;
  }
  EXPECT_GT(reversed, 50);
  EXPECT_GT(passive, 0);
  EXPECT_LT(passive, reversed);
}

// With --two-sentences every two-relation caption is two sentences, one
// relation each, and the second names again what the first named ("the dog");
// with --count-phrases every group is first named by a count phrase that
// carries its number. Both off: no caption has either form.
TEST(SynthCaptions, TwoSentencesAndCountPhrases) {
  const SynthOptions o = preset_options("tiny");
  const char* numbers[] = {"zero", "one", "two", "three", "four"};
  auto contains = [](const std::vector<std::string>& t, size_t from, size_t to, const std::string& w) {
    return std::find(t.begin() + from, t.begin() + to, w) != t.begin() + to;
  };
  int two_sentences = 0, definite_again = 0, groups = 0;
  for (int64_t i = 0; i < 60; ++i) {
    const Scene scene = generated_scene(o, "train", i);
    Rng plain_rng(static_cast<uint64_t>(i) + 1), styled_rng(static_cast<uint64_t>(i) + 1);
    for (const Caption& c : make_captions(scene, plain_rng, 5)) {
      EXPECT_EQ(c.text.find(" . "), std::string::npos) << c.text;
      EXPECT_EQ(c.text.find("a group of "), std::string::npos) << c.text;
      EXPECT_EQ(c.text.find("a pair of "), std::string::npos) << c.text;
    }
    for (const Caption& c : make_captions(scene, styled_rng, 5, CaptionStyle{0, 1.0, 1.0})) {
      SCOPED_TRACE(c.text);
      const std::vector<std::string> t = tokenize(c.text);
      const size_t stop = std::find(t.begin(), t.end(), ".") - t.begin();
      ASSERT_EQ(stop < t.size(), c.relations.size() == 2);
      if (stop < t.size()) {
        ++two_sentences;
        const GtRelation &first = c.relations[0], &second = c.relations[1];
        EXPECT_TRUE(contains(t, 0, stop, first.subject) && contains(t, 0, stop, first.object));
        EXPECT_TRUE(contains(t, stop + 1, t.size(), second.subject) && contains(t, stop + 1, t.size(), second.object));
        EXPECT_EQ(std::count(t.begin(), t.end(), "."), 1);
        for (const std::string& w : {second.subject, second.object})
          if (contains(t, 0, stop, w)) {
            ++definite_again;
            const auto at = std::find(t.begin() + stop + 1, t.end(), w);
            EXPECT_EQ(*(at - 1), "the");
          }
      }
      for (const GtObject& g : c.objects)
        if (g.count > 1) {
          ++groups;
          const bool phrase = c.text.find(std::string("a group of ") + numbers[g.count] + " ") != std::string::npos ||
                              (g.count == 2 && c.text.find("a pair of ") != std::string::npos);
          EXPECT_TRUE(phrase) << g.word;
        }
    }
  }
  EXPECT_GT(two_sentences, 20);
  EXPECT_GT(definite_again, 5);
  EXPECT_GT(groups, 20);
}

// The parser reads the two new caption forms as the generator records them:
// each sentence's triplet, and a count phrase's number.
TEST(SynthCaptions, ParserReadsTwoSentencesAndCountPhrases) {
  const SynthOptions o = preset_options("tiny");
  CaptionParser parser;
  int triplets = 0, recovered = 0, groups = 0, counted = 0;
  for (int64_t i = 0; i < 40; ++i) {
    const Scene scene = generated_scene(o, "dev", i);
    Rng rng(static_cast<uint64_t>(i) + 7);
    for (const Caption& c : make_captions(scene, rng, 5, CaptionStyle{0, 1.0, 1.0})) {
      const CaptionGraph g = parser.parse(c.text);
      for (const GtRelation& r : c.relations) {
        ++triplets;
        recovered += std::any_of(g.relations.begin(), g.relations.end(), [&](const SceneRelation& p) {
          return p.subject == r.subject && p.predicate == r.predicate && p.object == r.object;
        });
      }
      for (const GtObject& want : c.objects)
        if (want.count > 1) {
          ++groups;
          counted += std::any_of(g.objects.begin(), g.objects.end(),
                                 [&](const SceneObject& p) { return p.word == want.word && p.count == want.count; });
        }
    }
  }
  std::printf("triplets recovered %d/%d, group counts read %d/%d\n", recovered, triplets, counted, groups);
  ASSERT_GT(triplets, 100);
  ASSERT_GT(groups, 20);
  EXPECT_GE(recovered, 0.95 * triplets);
  EXPECT_GE(counted, 0.95 * groups);
}

}  // namespace
