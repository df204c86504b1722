#include "scenematch/synth/world.h"

#include <algorithm>

namespace sm::synth {
namespace {

constexpr unsigned kAnimate = bit(Kind::Person) | bit(Kind::Animal);
constexpr unsigned kThings = ~bit(Kind::Clothing);  // everything that stands on its own
constexpr unsigned kPainted =
    bit(Kind::Vehicle) | bit(Kind::Furniture) | bit(Kind::Clothing) | bit(Kind::Gear) | bit(Kind::Item);

Noun n(const char* singular, const char* plural = nullptr) {
  return {singular, plural ? plural : std::string(singular) + "s"};
}

std::vector<Category> make_categories() {
  using K = Kind;
  return {
      // people
      {n("man", "men"), {n("guy")}, K::Person, 2, 0.5f, 1.7f, 0},
      {n("woman", "women"), {n("lady", "ladies")}, K::Person, 2, 0.5f, 1.6f, 0},
      {n("boy"), {}, K::Person, 2, 0.45f, 1.3f, 0},
      {n("girl"), {}, K::Person, 2, 0.45f, 1.3f, 0},
      {n("child", "children"), {n("kid")}, K::Person, 2, 0.4f, 1.1f, 0},
      {n("baby", "babies"), {}, K::Person, 1, 0.4f, 0.6f, kHoldable},
      {n("player"), {}, K::Person, 2, 0.55f, 1.8f, 0},
      {n("chef"), {}, K::Person, 2, 0.5f, 1.7f, 0},
      // animals
      {n("dog"), {}, K::Animal, 2, 0.8f, 0.6f, kDraft | kTame},
      {n("cat"), {}, K::Animal, 1, 0.5f, 0.4f, kTame | kHoldable},
      {n("horse"), {}, K::Animal, 3, 2.0f, 1.6f, kRideable | kDraft | kTame},
      {n("cow"), {}, K::Animal, 3, 1.9f, 1.4f, kDraft | kTame},
      {n("bird"), {}, K::Animal, 1, 0.3f, 0.25f, kAloft | kHoldable},
      {n("elephant"), {}, K::Animal, 3, 2.6f, 2.4f, kRideable | kDraft},
      {n("giraffe"), {}, K::Animal, 3, 1.5f, 3.2f, 0},
      {n("zebra"), {}, K::Animal, 3, 1.9f, 1.4f, 0},
      {n("bear"), {}, K::Animal, 3, 1.6f, 1.2f, 0},
      {n("duck"), {}, K::Animal, 1, 0.4f, 0.35f, kHoldable},
      {n("goat"), {}, K::Animal, 2, 1.0f, 0.8f, kDraft | kTame},
      {n("pig"), {}, K::Animal, 2, 1.1f, 0.7f, kTame},
      {n("monkey"), {}, K::Animal, 2, 0.5f, 0.6f, 0},
      {n("rabbit"), {}, K::Animal, 1, 0.35f, 0.35f, kTame | kHoldable},
      {n("lion"), {}, K::Animal, 3, 1.8f, 1.1f, 0},
      {n("tiger"), {}, K::Animal, 3, 1.9f, 1.0f, 0},
      // vehicles
      {n("car"), {}, K::Vehicle, 3, 3.0f, 1.4f, kSurface | kContainer | kSupport},
      {n("bus", "buses"), {}, K::Vehicle, 3, 4.0f, 2.2f, kContainer | kSupport},
      {n("truck"), {}, K::Vehicle, 3, 3.6f, 2.0f, kSurface | kContainer | kSupport},
      {n("bicycle"), {n("bike")}, K::Vehicle, 2, 1.6f, 1.0f, kRideable | kLeanable},
      {n("motorcycle"), {n("motorbike")}, K::Vehicle, 2, 1.9f, 1.1f, kRideable | kLeanable},
      {n("boat"), {}, K::Vehicle, 3, 3.0f, 1.3f, kRideable | kContainer | kPullable},
      {n("train"), {}, K::Vehicle, 3, 4.5f, 2.0f, 0},
      {n("airplane"), {n("plane")}, K::Vehicle, 3, 4.0f, 1.5f, kAloft},
      {n("scooter"), {}, K::Vehicle, 2, 1.2f, 1.0f, kRideable | kLeanable},
      {n("tractor"), {}, K::Vehicle, 3, 2.8f, 2.0f, 0},
      {n("van"), {}, K::Vehicle, 3, 3.2f, 1.9f, kContainer | kSupport},
      {n("cart"), {}, K::Vehicle, 2, 1.4f, 0.9f, kContainer | kPullable},
      {n("wagon"), {}, K::Vehicle, 2, 1.3f, 0.8f, kContainer | kPullable},
      {n("sled"), {}, K::Vehicle, 2, 1.3f, 0.5f, kPullable},
      // furniture
      {n("table"), {}, K::Furniture, 3, 1.8f, 0.8f, kSurface | kShelter | kSupport},
      {n("chair"), {}, K::Furniture, 2, 0.6f, 1.0f, kSurface | kSeat | kShelter},
      {n("bench"), {}, K::Furniture, 3, 1.8f, 0.9f, kSurface | kSeat | kShelter | kSupport},
      {n("couch"), {n("sofa")}, K::Furniture, 3, 2.0f, 0.9f, kSurface | kSeat},
      {n("bed"), {}, K::Furniture, 3, 2.0f, 1.0f, kSurface | kSeat | kShelter},
      {n("desk"), {}, K::Furniture, 3, 1.5f, 0.8f, kSurface | kShelter | kSupport},
      {n("shelf", "shelves"), {}, K::Furniture, 2, 1.2f, 1.6f, kSurface},
      {n("cabinet"), {}, K::Furniture, 2, 1.0f, 1.2f, kSurface | kSupport},
      {n("lamp"), {}, K::Furniture, 2, 0.4f, 0.9f, kAloft},
      {n("stool"), {}, K::Furniture, 2, 0.5f, 0.7f, kSurface | kSeat},
      // food
      {n("pizza"), {}, K::Food, 1, 0.4f, 0.15f, kHoldable},
      {n("sandwich", "sandwiches"), {}, K::Food, 1, 0.25f, 0.15f, kHoldable},
      {n("apple"), {}, K::Food, 1, 0.12f, 0.12f, kHoldable},
      {n("banana"), {}, K::Food, 1, 0.25f, 0.1f, kHoldable},
      {n("cake"), {}, K::Food, 1, 0.35f, 0.25f, kHoldable},
      {n("donut"), {}, K::Food, 1, 0.15f, 0.08f, kHoldable},
      {n("carrot"), {}, K::Food, 1, 0.25f, 0.06f, kHoldable},
      {n("burger"), {}, K::Food, 1, 0.15f, 0.12f, kHoldable},
      {n("cookie"), {}, K::Food, 1, 0.1f, 0.05f, kHoldable},
      {n("pie"), {}, K::Food, 1, 0.3f, 0.1f, kHoldable},
      // clothing
      {n("shirt"), {}, K::Clothing, 1, 0.4f, 0.5f, kHoldable},
      {n("hat"), {}, K::Clothing, 1, 0.3f, 0.15f, kHoldable},
      {n("jacket"), {}, K::Clothing, 1, 0.45f, 0.55f, kHoldable},
      {n("dress", "dresses"), {}, K::Clothing, 1, 0.45f, 0.9f, kHoldable},
      {n("helmet"), {}, K::Clothing, 1, 0.28f, 0.22f, kHoldable},
      {n("coat"), {}, K::Clothing, 1, 0.45f, 0.8f, kHoldable},
      {n("shoe"), {}, K::Clothing, 1, 0.25f, 0.1f, kHoldable},
      {n("glove"), {}, K::Clothing, 1, 0.12f, 0.15f, kHoldable},
      {n("sweater"), {}, K::Clothing, 1, 0.45f, 0.5f, kHoldable},
      {n("cap"), {}, K::Clothing, 1, 0.25f, 0.12f, kHoldable},
      // sports gear
      {n("ball"), {}, K::Gear, 1, 0.22f, 0.22f, kHoldable | kAloft},
      {n("frisbee"), {}, K::Gear, 1, 0.25f, 0.06f, kHoldable | kAloft},
      {n("kite"), {}, K::Gear, 1, 0.6f, 0.6f, kHoldable | kAloft},
      {n("surfboard"), {}, K::Gear, 2, 0.5f, 1.8f, kHoldable | kRideable | kLeanable | kSurface},
      {n("skateboard"), {}, K::Gear, 1, 0.8f, 0.15f, kHoldable | kRideable | kLeanable | kSurface},
      {n("racket"), {}, K::Gear, 1, 0.3f, 0.65f, kHoldable | kLeanable},
      {n("snowboard"), {}, K::Gear, 2, 0.35f, 1.5f, kHoldable | kRideable | kLeanable | kSurface},
      // nature
      {n("tree"), {}, K::Nature, 3, 1.8f, 3.5f, kShelter | kSupport},
      {n("rock"), {n("stone")}, K::Nature, 2, 1.2f, 0.8f, kSurface | kSeat | kSupport},
      {n("flower"), {}, K::Nature, 1, 0.15f, 0.3f, kHoldable},
      {n("bush", "bushes"), {}, K::Nature, 2, 1.2f, 0.9f, 0},
      {n("log"), {}, K::Nature, 2, 1.8f, 0.4f, kSurface | kSeat},
      {n("plant"), {}, K::Nature, 1, 0.4f, 0.6f, kHoldable},
      // household items
      {n("cup"), {n("mug")}, K::Item, 1, 0.1f, 0.12f, kHoldable},
      {n("plate"), {}, K::Item, 1, 0.28f, 0.05f, kHoldable},
      {n("bowl"), {}, K::Item, 1, 0.25f, 0.12f, kHoldable | kContainer},
      {n("bottle"), {}, K::Item, 1, 0.09f, 0.3f, kHoldable},
      {n("box", "boxes"), {}, K::Item, 2, 0.6f, 0.5f, kContainer | kHoldable},
      {n("bag"), {}, K::Item, 1, 0.4f, 0.45f, kContainer | kHoldable},
      {n("book"), {}, K::Item, 1, 0.2f, 0.25f, kHoldable},
      {n("phone"), {}, K::Item, 1, 0.08f, 0.15f, kHoldable},
      {n("laptop"), {}, K::Item, 1, 0.35f, 0.25f, kHoldable},
      {n("clock"), {}, K::Item, 1, 0.3f, 0.3f, kAloft},
      {n("vase"), {}, K::Item, 1, 0.15f, 0.35f, kHoldable | kContainer},
      {n("basket"), {}, K::Item, 1, 0.4f, 0.3f, kHoldable | kContainer},
      {n("pillow"), {}, K::Item, 1, 0.5f, 0.3f, kHoldable},
      {n("umbrella"), {}, K::Item, 2, 1.0f, 1.0f, kHoldable | kShelter | kLeanable},
      {n("bucket"), {}, K::Item, 1, 0.3f, 0.35f, kHoldable | kContainer},
      {n("suitcase"), {}, K::Item, 2, 0.5f, 0.7f, kHoldable | kPullable},
  };
}

std::vector<Attribute> make_attributes() {
  using A = AttrKind;
  const unsigned fur = bit(Kind::Animal);
  const unsigned all = ~0u, things = ~(bit(Kind::Person));
  return {
      {"red", A::Colour, kPainted, {}},
      {"blue", A::Colour, kPainted, {}},
      {"green", A::Colour, kPainted, {}},
      {"yellow", A::Colour, kPainted, {}},
      {"pink", A::Colour, kPainted, {}},
      {"purple", A::Colour, kPainted, {}},
      {"black", A::Colour, kPainted | fur, {}},
      {"white", A::Colour, kPainted | fur, {}},
      {"brown", A::Colour, kPainted | fur, {}},
      {"gray", A::Colour, kPainted | fur, {}},
      {"small", A::Size, things, {}},
      {"large", A::Size, things, {}},
      {"big", A::Size, things, {}},
      {"little",
       A::Size,
       all,
       {"boy", "girl", "child", "baby", "dog", "cat", "bird", "duck", "rabbit", "pig", "goat", "monkey"}},
      {"tall",
       A::Size,
       all,
       {"man", "woman", "boy", "girl", "player", "chef", "giraffe", "tree", "lamp", "bottle", "vase", "plant"}},
      {"tiny", A::Size, fur | bit(Kind::Item) | bit(Kind::Food), {}},
      {"wooden",
       A::Material,
       all,
       {"table", "chair", "bench", "desk", "shelf", "cabinet", "stool", "box", "bowl", "boat", "cart", "wagon", "sled",
        "bucket", "basket"}},
      {"metal",
       A::Material,
       all,
       {"table", "chair", "bench", "desk", "shelf", "cabinet", "stool", "box", "bucket", "cart", "wagon", "lamp",
        "clock", "bottle", "cup"}},
      {"plastic",
       A::Material,
       all,
       {"chair", "table", "stool", "box", "bucket", "bottle", "cup", "plate", "bowl", "bag", "ball", "sled", "basket"}},
      {"glass", A::Material, all, {"table", "cup", "bottle", "vase", "bowl", "plate", "lamp", "cabinet"}},
      {"leather",
       A::Material,
       all,
       {"jacket", "coat", "glove", "shoe", "bag", "couch", "chair", "hat", "suitcase", "book"}},
      {"young", A::State, bit(Kind::Person) | fur, {}},
      {"old", A::State, ~bit(Kind::Food), {}},
      {"smiling", A::State, bit(Kind::Person), {}},
      {"happy", A::State, bit(Kind::Person) | fur, {}},
      {"sleeping", A::State, fur, {}},
      {"wet", A::State, fur | bit(Kind::Person) | bit(Kind::Clothing) | bit(Kind::Gear), {}},
      {"dirty", A::State, ~bit(Kind::Food), {}},
      {"clean", A::State, things & ~bit(Kind::Food), {}},
      {"empty",
       A::State,
       all,
       {"cup", "plate", "bowl", "bottle", "box", "bag", "vase", "basket", "bucket", "bus", "cart", "wagon", "bench",
        "chair", "table", "shelf"}},
      {"shiny", A::State, bit(Kind::Vehicle) | bit(Kind::Item) | bit(Kind::Gear), {}},
      {"striped", A::State, bit(Kind::Clothing) | bit(Kind::Item) | bit(Kind::Gear) | bit(Kind::Furniture), {}},
      {"fluffy", A::State, fur, {"dog", "cat", "rabbit", "bird", "duck", "bear", "goat"}},
      {"fresh",
       A::State,
       bit(Kind::Food) | bit(Kind::Nature),
       {"pizza", "sandwich", "apple", "banana", "cake", "donut", "carrot", "cookie", "pie", "flower"}},
  };
}

// Type constraints: each says which (subject, object) pairs read naturally.
bool animate(const Category& c) { return c.is(kAnimate); }
bool thing(const Category& c) { return c.is(kThings); }
bool named(const Category& c, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (c.noun.singular == name) return true;
  return false;
}

std::vector<Predicate> make_predicates() {
  using G = Geometry;
  return {
      {"on",
       {"on", "on top of"},
       G::OnTop,
       [](const Category& s, const Category& o) {
         if (!o.has(kSurface) || s.size > o.size) return false;
         if (s.is(bit(Kind::Person))) return o.has(kSeat);
         return s.size == 1 || s.is(bit(Kind::Animal));
       }},
      {"under",
       {"under", "below"},
       G::Under,
       [](const Category& s, const Category& o) {
         if (!o.has(kShelter) || !thing(s)) return false;
         if (s.is(bit(Kind::Person))) return named(o, {"tree", "umbrella"});
         return s.size < o.size;
       }},
      {"next to",
       {"next to", "beside"},
       G::SideApart,
       [](const Category& s, const Category& o) { return thing(s) && thing(o) && std::abs(s.size - o.size) <= 1; }},
      {"near", {"near"}, G::SideApart, [](const Category& s, const Category& o) { return thing(s) && thing(o); }},
      {"behind",
       {"behind"},
       G::Behind,
       [](const Category& s, const Category& o) { return s.size >= 2 && o.size >= 2 && thing(s) && thing(o); }},
      {"in front of",
       {"in front of"},
       G::Front,
       [](const Category& s, const Category& o) { return s.size >= 2 && o.size >= 2 && thing(s) && thing(o); }},
      {"inside",
       {"inside", "in"},
       G::Inside,
       [](const Category& s, const Category& o) {
         if (!o.has(kContainer) || s.size >= o.size || !thing(s)) return false;
         if (o.size == 1) return s.is(bit(Kind::Food)) || named(s, {"phone", "book", "ball", "apple", "flower"});
         return true;
       }},
      {"above",
       {"above"},
       G::Above,
       [](const Category& s, const Category& o) {
         return s.has(kAloft) && thing(o) && !o.has(kAloft) && (s.size <= o.size || named(s, {"airplane"}));
       }},
      {"leaning against",
       {"leaning against"},
       G::SideTouch,
       [](const Category& s, const Category& o) {
         return (s.has(kLeanable) || s.is(bit(Kind::Person))) && o.has(kSupport) && s.size <= o.size;
       }},
      {"riding",
       {"riding"},
       G::OnTop,
       [](const Category& s, const Category& o) {
         if (!o.has(kRideable)) return false;
         if (s.is(bit(Kind::Person))) return s.size == 2;
         return named(s, {"monkey", "dog"}) && (o.is(bit(Kind::Animal)) ? o.size == 3 : named(o, {"skateboard"}));
       }},
      {"holding",
       {"holding"},
       G::Contains,
       [](const Category& s, const Category& o) {
         if (!o.has(kHoldable) || o.size > 1) return false;
         if (s.is(bit(Kind::Person))) return s.size == 2;
         return named(s, {"monkey"}) || (named(s, {"dog"}) && named(o, {"ball", "frisbee", "shoe"}));
       }},
      {"chasing",
       {"chasing"},
       G::SideApart,
       [](const Category& s, const Category& o) {
         bool chaser = named(s, {"dog", "cat", "lion", "tiger", "bear", "boy", "girl", "child", "man", "woman", "goat",
                                 "monkey", "horse"});
         return chaser && (animate(o) || named(o, {"ball", "frisbee", "bicycle", "car"})) && o.noun.singular != "baby";
       }},
      {"eating",
       {"eating"},
       G::Contains,
       [](const Category& s, const Category& o) {
         return o.is(bit(Kind::Food)) && animate(s) && s.size >= 1 && !named(s, {"baby"}) &&
                (s.size > 1 || named(o, {"cookie", "carrot", "apple"}));
       }},
      {"throwing",
       {"throwing"},
       G::Throw,
       [](const Category& s, const Category& o) {
         return ((s.is(bit(Kind::Person)) && s.size == 2) || named(s, {"monkey"})) &&
                named(o, {"ball", "frisbee", "apple", "banana", "kite"});
       }},
      {"wearing",
       {"wearing"},
       G::Contains,
       [](const Category& s, const Category& o) {
         if (!o.is(bit(Kind::Clothing))) return false;
         if (s.is(bit(Kind::Person))) return true;
         return named(s, {"dog", "monkey"}) && named(o, {"hat", "sweater", "cap", "helmet"});
       }},
      {"pulling",
       {"pulling"},
       G::SideApart,
       [](const Category& s, const Category& o) {
         bool puller = (s.is(bit(Kind::Person)) && s.size == 2) || s.has(kDraft);
         bool pulled = o.has(kPullable) || (o.is(bit(Kind::Person)) && o.size == 2) ||
                       (o.is(bit(Kind::Animal)) && o.has(kTame) && o.size <= 2);
         return puller && pulled && (!s.is(bit(Kind::Animal)) || !o.is(bit(Kind::Animal)));
       }},
      {"looking at",
       {"looking at"},
       G::SideApart,
       [](const Category& s, const Category& o) { return animate(s) && thing(o); }},
      {"carrying",
       {"carrying"},
       G::Contains,
       [](const Category& s, const Category& o) {
         if (!o.has(kHoldable) || o.is(bit(Kind::Person)) || o.is(bit(Kind::Animal))) return false;
         if (s.is(bit(Kind::Person))) return s.size == 2;
         return named(s, {"horse", "elephant"}) && named(o, {"bag", "basket", "box", "suitcase"});
       }},
      {"feeding",
       {"feeding"},
       G::SideTouch,
       [](const Category& s, const Category& o) {
         return s.is(bit(Kind::Person)) && s.size == 2 && o.is(bit(Kind::Animal));
       }},
      {"petting",
       {"petting"},
       G::SideTouch,
       [](const Category& s, const Category& o) { return s.is(bit(Kind::Person)) && s.size == 2 && o.has(kTame); }},
      {"kicking",
       {"kicking"},
       G::Kick,
       [](const Category& s, const Category& o) {
         return ((s.is(bit(Kind::Person)) && s.size == 2) || named(s, {"horse"})) &&
                named(o, {"ball", "box", "bucket", "bottle"});
       }},
      {"sitting on",
       {"sitting on"},
       G::OnTop,
       [](const Category& s, const Category& o) {
         if (s.is(bit(Kind::Person))) return o.has(kSeat);
         return s.is(bit(Kind::Animal)) && o.has(kSurface) && s.size < o.size;
       }},
      {"standing on",
       {"standing on"},
       G::OnTop,
       [](const Category& s, const Category& o) {
         if (s.is(bit(Kind::Person)) && s.size == 2)
           return named(o, {"rock", "log", "surfboard", "skateboard", "snowboard", "bench", "chair", "stool"});
         return s.is(bit(Kind::Animal)) && o.has(kSurface) && s.size < o.size;
       }},
      {"lying on",
       {"lying on"},
       G::OnTop,
       [](const Category& s, const Category& o) {
         if (s.is(bit(Kind::Person))) return named(o, {"bed", "couch", "bench", "log"});
         return s.is(bit(Kind::Animal)) && s.size <= 2 && o.has(kSurface) && s.size < o.size;
       }},
      {"watching",
       {"watching"},
       G::SideApart,
       [](const Category& s, const Category& o) { return animate(s) && (animate(o) || o.is(bit(Kind::Vehicle))); }},
      {"hugging",
       {"hugging"},
       G::SideTouch,
       [](const Category& s, const Category& o) {
         bool hugger = s.is(bit(Kind::Person)) || named(s, {"bear", "monkey"});
         return hugger && (o.is(bit(Kind::Person)) || o.has(kTame) || named(o, {"tree", "pillow"}));
       }},
      {"pushing",
       {"pushing"},
       G::SideTouch,
       [](const Category& s, const Category& o) {
         return s.is(bit(Kind::Person)) && s.size == 2 &&
                (o.has(kPullable) || (o.is(bit(Kind::Person)) && o.size == 2) ||
                 named(o, {"bicycle", "scooter", "box", "car"}));
       }},
      {"following",
       {"following"},
       G::SideApart,
       [](const Category& s, const Category& o) { return animate(s) && animate(o) && s.size >= 2 && o.size >= 2; }},
      {"using",
       {"using"},
       G::Contains,
       [](const Category& s, const Category& o) {
         return s.is(bit(Kind::Person)) && s.size == 2 && named(o, {"phone", "laptop"});
       }},
      {"reading",
       {"reading"},
       G::Contains,
       [](const Category& s, const Category& o) {
         return s.is(bit(Kind::Person)) && s.size == 2 && named(o, {"book"});
       }},
      {"sniffing",
       {"sniffing"},
       G::SideTouch,
       [](const Category& s, const Category& o) {
         return named(s, {"dog", "cat", "bear", "pig", "horse", "rabbit", "goat", "cow"}) && thing(o);
       }},
  };
}

}  // namespace

const char* geometry_name(Geometry g) {
  switch (g) {
    case Geometry::OnTop:
      return "on-top";
    case Geometry::Under:
      return "under";
    case Geometry::Above:
      return "above";
    case Geometry::SideApart:
      return "side-apart";
    case Geometry::SideTouch:
      return "side-touch";
    case Geometry::Behind:
      return "behind";
    case Geometry::Front:
      return "front";
    case Geometry::Inside:
      return "inside";
    case Geometry::Contains:
      return "contains";
    case Geometry::Throw:
      return "throw";
    case Geometry::Kick:
      return "kick";
  }
  return "?";
}

bool symmetric_layout(Geometry g) { return g == Geometry::SideApart || g == Geometry::SideTouch; }

bool Predicate::is_action() const {
  std::string first = name.substr(0, name.find(' '));
  return first.size() > 3 && first.compare(first.size() - 3, 3, "ing") == 0;
}

bool World::attribute_fits(int attribute, int category) const {
  const Attribute& a = attributes[attribute];
  const Category& c = categories[category];
  if (!a.only.empty()) return std::find(a.only.begin(), a.only.end(), c.noun.singular) != a.only.end() && c.is(a.kinds);
  return c.is(a.kinds);
}

int World::category_index(const std::string& noun) const {
  for (size_t i = 0; i < categories.size(); ++i)
    if (categories[i].noun.singular == noun) return static_cast<int>(i);
  return -1;
}

int World::predicate_index(const std::string& name) const {
  for (size_t i = 0; i < predicates.size(); ++i)
    if (predicates[i].name == name) return static_cast<int>(i);
  return -1;
}

const World& world() {
  static const World w{
      make_categories(),
      make_attributes(),
      make_predicates(),
      {"head", "leg", "arm", "wheel", "window", "handle", "tail", "ear", "door", "edge"},
      {"sky", "grass", "wall", "floor", "road", "water", "sand", "snow", "building", "fence", "ground", "cloud"}};
  return w;
}

}  // namespace sm::synth
