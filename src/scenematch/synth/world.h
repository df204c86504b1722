// The lexicon of the synthetic world: object categories, attributes and
// predicates, with the type constraints that keep generated sentences
// plausible ("a man riding a horse", never "a cup riding a bus") and the
// geometry each predicate implies for the two boxes.
#pragma once
#include <string>
#include <vector>

namespace sm::synth {

enum class Kind { Person, Animal, Vehicle, Furniture, Food, Clothing, Gear, Nature, Item };
constexpr unsigned bit(Kind k) { return 1u << static_cast<unsigned>(k); }

// Category properties used by the type constraints.
enum CategoryFlag : unsigned {
  kRideable = 1u << 0,   // horse, bicycle, skateboard...
  kSurface = 1u << 1,    // things can stand on it: table, bench, rock...
  kSeat = 1u << 2,       // a person can sit or lie on it
  kContainer = 1u << 3,  // things can be inside it
  kHoldable = 1u << 4,   // a person can hold it in the hands
  kShelter = 1u << 5,    // things can be under it
  kAloft = 1u << 6,      // seen above other things: bird, kite, lamp...
  kDraft = 1u << 7,      // animals that pull carts
  kTame = 1u << 8,       // animals a person pets, hugs or feeds up close
  kPullable = 1u << 9,   // cart, sled, suitcase...
  kLeanable = 1u << 10,  // leans against things: bicycle, surfboard...
  kSupport = 1u << 11,   // things lean against it: tree, wall-like objects
};

struct Noun {
  std::string singular, plural;
};

struct Category {
  Noun noun;                   // the canonical name (vsg label, probes)
  std::vector<Noun> synonyms;  // other surface forms captions may use
  Kind kind;
  int size;        // 1 handheld, 2 person-sized, 3 larger
  float w, h;      // typical box in arbitrary units
  unsigned flags;  // CategoryFlag bits
  bool has(unsigned f) const { return (flags & f) != 0; }
  bool is(unsigned kinds) const { return (bit(kind) & kinds) != 0; }
};

enum class AttrKind { Colour, Size, Material, State };

struct Attribute {
  std::string word;
  AttrKind kind;
  unsigned kinds;                 // category kinds it applies to
  std::vector<std::string> only;  // when non-empty: just these categories
};

// What a predicate means for the boxes (subject s, object o).
enum class Geometry {
  OnTop,      // s above o and overlapping it (on, riding, sitting on...)
  Under,      // s below o's centre, its bottom lower, x ranges overlapping
  Above,      // s entirely above o, x ranges overlapping
  SideApart,  // side by side on the same ground, not overlapping
  SideTouch,  // side by side, overlapping a little
  Behind,     // s smaller (farther), overlapping, its bottom higher
  Front,      // s larger (nearer), overlapping, its bottom lower
  Inside,     // s's box within o's box
  Contains,   // o's box within s's box (holding, wearing, eating...)
  Throw,      // o smaller, apart from s and above s's centre
  Kick,       // o smaller, at s's feet
};
const char* geometry_name(Geometry g);
// Side by side (either side at random): the boxes read the same with subject
// and object exchanged, so they do not show the relation's direction.
bool symmetric_layout(Geometry g);

struct Predicate {
  std::string name;                   // canonical (vsg predicate)
  std::vector<std::string> surfaces;  // caption forms, first = name
  Geometry geometry;
  bool (*allows)(const Category& s, const Category& o);
  // An action ("riding", "sitting on": a participle), not a preposition.
  bool is_action() const;
};

struct World {
  std::vector<Category> categories;
  std::vector<Attribute> attributes;
  std::vector<Predicate> predicates;
  std::vector<std::string> part_names;        // detector "part" regions
  std::vector<std::string> background_names;  // detector clutter regions

  bool attribute_fits(int attribute, int category) const;
  int category_index(const std::string& noun) const;  // -1 when absent
  int predicate_index(const std::string& name) const;
};

const World& world();  // built once

}  // namespace sm::synth
