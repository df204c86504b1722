// One synthetic image: entities (a category with attributes, one or more
// instances), directed relations between them, boxes laid out so that every
// relation's geometry holds, and the 36 detector-like regions in shuffled
// order.
#pragma once
#include <cstdint>
#include <vector>

#include "scenematch/synth/random.h"
#include "scenematch/synth/world.h"

namespace sm::synth {

struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float w() const { return x2 - x1; }
  float h() const { return y2 - y1; }
  float cx() const { return 0.5f * (x1 + x2); }
  float cy() const { return 0.5f * (y1 + y2); }
  float area() const { return w() * h(); }
};
float intersection_area(const Box& a, const Box& b);

// Whether boxes s (subject) and o (object) show the geometry; the checks are
// invariant to scaling and translating the image, and allow `tolerance`
// pixels of rounding.
bool geometry_holds(Geometry g, const Box& s, const Box& o, float tolerance = 1e-3f);

struct Entity {
  int category = 0;
  std::vector<int> attributes;  // indices into world().attributes
  int count = 1;                // "two dogs": a group of instances
  std::vector<Box> boxes;       // one per instance
  std::vector<int> regions;     // region index of each instance
};

struct Relation {
  int subject = 0, predicate = 0, object = 0;  // entity, predicate, entity
  int anchor = 0;                              // the entity the other was placed against (its first instance)
};

enum class RegionKind { Object, Duplicate, Part, Background };

struct Region {
  Box box;
  RegionKind kind = RegionKind::Background;
  int entity = -1;   // Object, Duplicate, Part: whose
  int instance = 0;  // which instance of the entity
  int label = 0;     // Part: part index; Background: background index
};

struct Scene {
  float width = 0, height = 0;
  std::vector<Entity> entities;  // related ones first, then unrelated extras
  std::vector<Relation> relations;
  std::vector<Region> regions;
  int num_instances() const;
};

struct SceneOptions {
  int num_regions = 36;
  double swappable_bias = 0.6;  // chance the first relation reads as well with its roles swapped
  // Chance the scene also holds an unrelated twin of one related object: same
  // category, contrasting attributes ("a red car" beside the "blue car" that
  // a relation names), so a caption's object is found only through its relation.
  double distractors = 0;
};

Scene sample_scene(Rng& rng, const SceneOptions& options);

// Whether (object, predicate, subject) is also type-valid.
bool swap_is_plausible(const Relation& r, const Scene& scene);

}  // namespace sm::synth
