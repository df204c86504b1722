#include "scenematch/synth/scene.h"

#include <algorithm>
#include <cmath>

namespace sm::synth {
namespace {

Box from_bottom(float cx, float y2, float w, float h) { return {cx - 0.5f * w, y2 - h, cx + 0.5f * w, y2}; }

float overlap_1d(float a1, float a2, float b1, float b2) { return std::min(a2, b2) - std::max(a1, b1); }

bool contained(const Box& inner, const Box& outer, float tol) {
  return inner.x1 >= outer.x1 - tol && inner.y1 >= outer.y1 - tol && inner.x2 <= outer.x2 + tol &&
         inner.y2 <= outer.y2 + tol;
}

bool same_ground(const Box& s, const Box& o, float tol) {
  return std::abs(s.y2 - o.y2) <= 0.1f * std::min(s.h(), o.h()) + tol;
}

bool x_disjoint(const Box& s, const Box& o, float tol) { return s.x2 <= o.x1 + tol || o.x2 <= s.x1 + tol; }

// Places a subject of size (sw, sh) against object box o so that the
// geometry holds (sizes already fitted by fit_size).
Box place_subject(Geometry g, const Box& o, float sw, float sh, Rng& rng) {
  const float side = rng.chance(0.5) ? 1.f : -1.f;
  switch (g) {
    case Geometry::OnTop: {
      float depth = rng.uniform(0.1, 0.4) * std::min(sh, o.h());
      return from_bottom(o.x1 + rng.uniform(0.25, 0.75) * o.w(), o.y1 + depth, sw, sh);
    }
    case Geometry::Under:
      return from_bottom(o.cx() + rng.uniform(-0.3, 0.3) * o.w(), o.y2 + rng.uniform(0.02, 0.2) * o.h(), sw, sh);
    case Geometry::Above:
      return from_bottom(o.cx() + rng.uniform(-0.4, 0.4) * o.w(), o.y1 - rng.uniform(0.05, 0.6) * o.h(), sw, sh);
    case Geometry::SideApart: {
      float gap = rng.uniform(0.05, 0.6) * std::max(sw, o.w());
      float y2 = o.y2 + rng.uniform(-0.05, 0.05) * std::min(sh, o.h());
      return from_bottom(o.cx() + side * (0.5f * (sw + o.w()) + gap), y2, sw, sh);
    }
    case Geometry::SideTouch: {
      float y2 = o.y2 + rng.uniform(-0.05, 0.05) * std::min(sh, o.h());
      return from_bottom(o.cx() + side * 0.5f * (sw + o.w()) * rng.uniform(0.6, 0.9), y2, sw, sh);
    }
    case Geometry::Behind:
      return from_bottom(o.cx() + rng.uniform(-0.5, 0.5) * o.w(), o.y2 - rng.uniform(0.1, 0.4) * o.h(), sw, sh);
    case Geometry::Front:
      return from_bottom(o.cx() + rng.uniform(-0.4, 0.4) * o.w(), o.y2 + rng.uniform(0.05, 0.3) * std::min(sh, o.h()),
                         sw, sh);
    case Geometry::Inside: {
      float x1 = o.x1 + (o.w() - sw) * rng.uniform(0.05, 0.95), y1 = o.y1 + (o.h() - sh) * rng.uniform(0.05, 0.95);
      return {x1, y1, x1 + sw, y1 + sh};
    }
    case Geometry::Contains: {
      float x1 = o.x1 - (sw - o.w()) * rng.uniform(0.05, 0.95), y1 = o.y1 - (sh - o.h()) * rng.uniform(0.05, 0.95);
      return {x1, y1, x1 + sw, y1 + sh};
    }
    case Geometry::Throw: {  // the thrown object is up in the air beside the thrower
      float cx = o.cx() - side * (0.5f * (sw + o.w()) + rng.uniform(0.05, 1.0) * sw);
      float y1 = o.cy() - rng.uniform(-0.3, 0.2) * sh;
      return {cx - 0.5f * sw, y1, cx + 0.5f * sw, y1 + sh};
    }
    case Geometry::Kick: {  // the kicked object is at the kicker's feet
      float cx = o.cx() - side * (0.5f * sw + o.w() * rng.uniform(-0.3, 0.5));
      return from_bottom(cx, o.y2 - rng.uniform(-0.05, 0.05) * sh, sw, sh);
    }
  }
  return o;
}

// The size ratio a geometry constrains: its value for (s, o), how it scales
// with the subject (power > 0) or the object (power < 0), and the allowed and
// target ranges.
struct SizeRule {
  float lo, hi, target_lo, target_hi;
  int power;
};
bool size_rule(Geometry g, SizeRule& rule) {
  switch (g) {
    case Geometry::Under:
      rule = {0, 0.8f, 0.45f, 0.8f, 1};
      return true;
    case Geometry::Behind:
      rule = {0, 0.6f, 0.25f, 0.6f, 2};
      return true;
    case Geometry::Front:
      rule = {1.7f, 1e9f, 1.7f, 3.f, 2};
      return true;
    case Geometry::Inside:
      rule = {0, 0.6f, 0.3f, 0.6f, 1};
      return true;
    case Geometry::Contains:
    case Geometry::Throw:
    case Geometry::Kick:
      rule = {0, 0.5f, 0.2f, 0.5f, -1};
      return true;
    default:
      return false;
  }
}
float size_ratio(Geometry g, float sw, float sh, float ow, float oh) {
  switch (g) {
    case Geometry::Under:
      return sh / oh;
    case Geometry::Behind:
    case Geometry::Front:
      return sw * sh / (ow * oh);
    case Geometry::Inside:
      return std::max(sw / ow, sh / oh);
    default:
      return std::max(ow / sw, oh / sh);
  }
}

// Scales the child's size (w, h) so the geometry's size rule holds against the anchor.
void fit_size(Geometry g, bool child_is_subject, const Box& anchor, float& w, float& h, Rng& rng) {
  SizeRule rule;
  if (!size_rule(g, rule)) return;
  float q =
      child_is_subject ? size_ratio(g, w, h, anchor.w(), anchor.h()) : size_ratio(g, anchor.w(), anchor.h(), w, h);
  if (q >= rule.lo && q <= rule.hi) return;
  float wanted = static_cast<float>(rng.uniform(rule.target_lo, rule.target_hi)) / q;
  // q scales as f^power with the subject's scale f, as f^-power with the object's.
  int power = child_is_subject ? rule.power : -rule.power;
  float f = std::abs(power) == 2 ? std::sqrt(wanted) : wanted;
  if (power < 0) f = 1.f / f;
  w *= f;
  h *= f;
}

// A group's members may share a relation only where that reads naturally:
// "two cats on a bench", "a man holding two apples", not "a man wearing two hats".
bool group_fits(const Predicate& p, bool group_is_subject) {
  switch (p.geometry) {
    case Geometry::Contains:
      return !group_is_subject && p.name != "wearing";
    case Geometry::Throw:
    case Geometry::Kick:
      return false;
    case Geometry::SideApart:
    case Geometry::SideTouch:
    case Geometry::Behind:
    case Geometry::Front:
      return true;
    default:
      return group_is_subject;
  }
}

std::vector<int> pick_attributes(Rng& rng, int category) {
  const World& w = world();
  double u = rng.uniform();
  int wanted = u < 0.2 ? 0 : u < 0.7 ? 1 : 2;
  std::vector<int> fitting;
  for (int a = 0; a < static_cast<int>(w.attributes.size()); ++a)
    if (w.attribute_fits(a, category)) fitting.push_back(a);
  std::vector<int> chosen;
  for (int tries = 0; tries < 10 && static_cast<int>(chosen.size()) < wanted && !fitting.empty(); ++tries) {
    int a = rng.pick(fitting);
    bool clash =
        std::any_of(chosen.begin(), chosen.end(), [&](int b) { return w.attributes[b].kind == w.attributes[a].kind; });
    if (!clash) chosen.push_back(a);
  }
  return chosen;
}

// The twin's attributes: for each of the original's, another of the same
// kind that fits the category; one drawn attribute when the original has none.
std::vector<int> contrasting_attributes(Rng& rng, int category, const std::vector<int>& original) {
  const World& w = world();
  if (original.empty()) return pick_attributes(rng, category);
  std::vector<int> chosen;
  for (int a : original) {
    std::vector<int> others;
    for (int b = 0; b < static_cast<int>(w.attributes.size()); ++b)
      if (b != a && w.attributes[b].kind == w.attributes[a].kind && w.attribute_fits(b, category)) others.push_back(b);
    if (!others.empty()) chosen.push_back(rng.pick(others));
  }
  return chosen;
}

Box clip(Box b, float width, float height) {
  b.x1 = std::clamp(b.x1, 0.f, width - 2.f);
  b.y1 = std::clamp(b.y1, 0.f, height - 2.f);
  b.x2 = std::clamp(b.x2, b.x1 + 2.f, width);
  b.y2 = std::clamp(b.y2, b.y1 + 2.f, height);
  return b;
}

bool try_sample(Rng& rng, const SceneOptions& options, Scene& scene) {
  const World& w = world();
  const int num_categories = static_cast<int>(w.categories.size());
  const int num_predicates = static_cast<int>(w.predicates.size());

  // 2-5 entities, some of them groups ("two dogs"), 2-6 objects in all, 1-4 relations.
  int num_entities = rng.between(2, 5);
  std::vector<int> counts(num_entities, 1);
  for (int e = 0, instances = num_entities; e < num_entities; ++e) {
    double u = rng.uniform();
    int extra = u < 0.03 ? 2 : u < 0.12 ? 1 : 0;
    extra = std::min(extra, 6 - instances);
    counts[e] += extra;
    instances += extra;
  }
  int num_relations = rng.between(1, std::min(num_entities - 1, 4));
  std::vector<bool> used(num_categories, false);
  auto add_entity = [&](int category, int count) {
    used[category] = true;
    Entity e;
    e.category = category;
    e.count = count;
    scene.entities.push_back(e);
  };
  // Scenes centre on people and animals half of the time, so actions are common.
  double u = rng.uniform();
  std::vector<int> roots;
  for (int c = 0; c < num_categories; ++c) {
    Kind kind = w.categories[c].kind;
    if (u < 0.3 ? kind == Kind::Person : u < 0.55 ? kind == Kind::Animal : true) roots.push_back(c);
  }
  add_entity(rng.pick(roots), counts[0]);

  // Each further related entity attaches to an earlier one, so relations form
  // a tree and every relation's geometry can be laid out exactly. Predicates
  // that fit are drawn with actions three times as likely as spatial ones.
  for (int k = 1; k <= num_relations; ++k) {
    int parent = rng.below(k);
    const Category& anchor = w.categories[scene.entities[parent].category];
    bool want_swappable = k == 1 && rng.chance(options.swappable_bias);
    struct Option {
      int predicate;
      bool child_is_subject;
      std::vector<int> categories;
    };
    std::vector<Option> options_found;
    double total_weight = 0;
    for (int p = 0; p < num_predicates; ++p) {
      const Predicate& pred = w.predicates[p];
      for (bool child_is_subject : {true, false}) {
        if (counts[k] > 1 && !group_fits(pred, child_is_subject)) continue;
        if (counts[parent] > 1 && !group_fits(pred, !child_is_subject)) continue;
        Option option{p, child_is_subject, {}};
        for (int c = 0; c < num_categories; ++c) {
          if (used[c]) continue;
          const Category& cat = w.categories[c];
          const Category& s = child_is_subject ? cat : anchor;
          const Category& o = child_is_subject ? anchor : cat;
          if (pred.allows(s, o) && (!want_swappable || pred.allows(o, s))) option.categories.push_back(c);
        }
        if (option.categories.empty()) continue;
        total_weight += pred.is_action() ? 3.0 : 1.0;
        options_found.push_back(std::move(option));
      }
    }
    bool placed = !options_found.empty();
    if (placed) {
      double pick = rng.uniform() * total_weight;
      size_t i = 0;
      for (; i + 1 < options_found.size(); ++i) {
        pick -= w.predicates[options_found[i].predicate].is_action() ? 3.0 : 1.0;
        if (pick < 0) break;
      }
      const Option& chosen = options_found[i];
      add_entity(rng.pick(chosen.categories), counts[k]);
      scene.relations.push_back(chosen.child_is_subject ? Relation{k, chosen.predicate, parent, parent}
                                                        : Relation{parent, chosen.predicate, k, parent});
    }
    if (!placed) return false;
  }
  for (int k = num_relations + 1; k < num_entities; ++k) {
    int c;
    do c = rng.below(num_categories);
    while (used[c]);
    add_entity(c, counts[k]);
  }
  for (Entity& e : scene.entities) e.attributes = pick_attributes(rng, e.category);
  // Drawn only when asked for, so the other presets' scenes stay as they were.
  if (options.distractors > 0 && rng.chance(options.distractors)) {
    std::vector<int> singles;  // a group's twin would change its count
    for (int k = 0; k <= num_relations; ++k)
      if (scene.entities[k].count == 1) singles.push_back(k);
    if (!singles.empty()) {
      const Entity& original = scene.entities[rng.pick(singles)];
      Entity twin;
      twin.category = original.category;
      twin.attributes = contrasting_attributes(rng, original.category, original.attributes);
      scene.entities.push_back(twin);
      ++num_entities;
    }
  }

  // Layout in free units: the root at the origin, each child against its
  // anchor's first instance.
  auto base_size = [&](const Entity& e, float& bw, float& bh) {
    const Category& c = w.categories[e.category];
    bw = c.w * static_cast<float>(rng.uniform(0.85, 1.15));
    bh = c.h * static_cast<float>(rng.uniform(0.85, 1.15));
  };
  float bw, bh;
  Entity& root = scene.entities[0];
  base_size(root, bw, bh);
  root.boxes.push_back(from_bottom(0, 0, bw, bh));
  for (int i = 1; i < root.count; ++i)
    root.boxes.push_back(place_subject(Geometry::SideApart, root.boxes[0], bw, bh, rng));
  for (int k = 1; k <= num_relations; ++k) {
    const Relation& r = scene.relations[k - 1];
    Geometry g = w.predicates[r.predicate].geometry;
    const Box anchor = scene.entities[r.anchor].boxes[0];
    bool child_is_subject = r.subject == k;
    Entity& child = scene.entities[k];
    base_size(child, bw, bh);
    fit_size(g, child_is_subject, anchor, bw, bh, rng);
    for (int i = 0; i < child.count; ++i) {
      if (child_is_subject) {
        child.boxes.push_back(place_subject(g, anchor, bw, bh, rng));
      } else {
        // Place the anchor against a child at the origin, then move the pair
        // so the anchor lands where it is.
        Box o = from_bottom(0, 0, bw, bh);
        Box s = place_subject(g, o, anchor.w(), anchor.h(), rng);
        float dx = anchor.x1 - s.x1, dy = anchor.y1 - s.y1;
        child.boxes.push_back({o.x1 + dx, o.y1 + dy, o.x2 + dx, o.y2 + dy});
      }
    }
  }

  // Fit the related entities into a W x H image by one scale and shift, which
  // keeps every relation's geometry.
  scene.width = static_cast<float>(rng.between(420, 640));
  scene.height = static_cast<float>(rng.between(320, 640));
  Box all{1e9f, 1e9f, -1e9f, -1e9f};
  for (int k = 0; k <= num_relations; ++k)
    for (const Box& b : scene.entities[k].boxes)
      all = {std::min(all.x1, b.x1), std::min(all.y1, b.y1), std::max(all.x2, b.x2), std::max(all.y2, b.y2)};
  float scale = std::min(0.92f * scene.width / all.w(), 0.92f * scene.height / all.h()) *
                static_cast<float>(rng.uniform(0.75, 1.0));
  float ox = static_cast<float>(rng.uniform()) * (scene.width - scale * all.w());
  float oy = static_cast<float>(rng.uniform()) * (scene.height - scale * all.h());
  for (int k = 0; k <= num_relations; ++k)
    for (Box& b : scene.entities[k].boxes) {
      b = {ox + scale * (b.x1 - all.x1), oy + scale * (b.y1 - all.y1), ox + scale * (b.x2 - all.x1),
           oy + scale * (b.y2 - all.y1)};
      if (b.w() < 4.f || b.h() < 4.f) return false;  // too small to be a detection
    }
  // Unrelated entities: anywhere, at the same scale (capped to fit).
  for (int k = num_relations + 1; k < num_entities; ++k) {
    Entity& e = scene.entities[k];
    base_size(e, bw, bh);
    float f = scale * static_cast<float>(rng.uniform(0.6, 1.0));
    f = std::min({f, 0.6f * scene.width / bw, 0.6f * scene.height / bh});
    f = std::max({f, 8.f / bw, 8.f / bh});
    for (int i = 0; i < e.count; ++i) {
      float x1 = static_cast<float>(rng.uniform()) * (scene.width - f * bw);
      float y1 = static_cast<float>(rng.uniform()) * (scene.height - f * bh);
      e.boxes.push_back({x1, y1, x1 + f * bw, y1 + f * bh});
    }
  }

  // Regions: every instance, then detector-like extras, shuffled.
  std::vector<Region> regions;
  for (int k = 0; k < num_entities; ++k)
    for (int i = 0; i < scene.entities[k].count; ++i)
      regions.push_back({scene.entities[k].boxes[i], RegionKind::Object, k, i, 0});
  const int objects = static_cast<int>(regions.size());
  if (objects > options.num_regions) return false;
  int spare = options.num_regions - objects;
  int duplicates = std::min(spare, rng.between(objects, 2 * objects));
  int parts = std::min(spare - duplicates, rng.between(objects, 2 * objects));
  for (int d = 0; d < duplicates + parts; ++d) {
    const Region& source = regions[rng.below(objects)];
    const Box& b = source.box;
    Region extra = source;
    if (d < duplicates) {
      extra.kind = RegionKind::Duplicate;
      extra.box = clip({b.x1 + static_cast<float>(rng.uniform(-0.15, 0.15)) * b.w(),
                        b.y1 + static_cast<float>(rng.uniform(-0.15, 0.15)) * b.h(),
                        b.x2 + static_cast<float>(rng.uniform(-0.15, 0.15)) * b.w(),
                        b.y2 + static_cast<float>(rng.uniform(-0.15, 0.15)) * b.h()},
                       scene.width, scene.height);
    } else {
      extra.kind = RegionKind::Part;
      extra.label = rng.below(static_cast<int>(w.part_names.size()));
      float pw = static_cast<float>(rng.uniform(0.2, 0.5)) * b.w(),
            ph = static_cast<float>(rng.uniform(0.2, 0.5)) * b.h();
      float x1 = b.x1 + static_cast<float>(rng.uniform()) * (b.w() - pw);
      float y1 = b.y1 + static_cast<float>(rng.uniform()) * (b.h() - ph);
      extra.box = clip({x1, y1, x1 + pw, y1 + ph}, scene.width, scene.height);
    }
    regions.push_back(extra);
  }
  while (static_cast<int>(regions.size()) < options.num_regions) {
    Region bg;
    float bw_px = static_cast<float>(rng.uniform(0.1, 0.9)) * scene.width;
    float bh_px = static_cast<float>(rng.uniform(0.1, 0.9)) * scene.height;
    float x1 = static_cast<float>(rng.uniform()) * (scene.width - bw_px);
    float y1 = static_cast<float>(rng.uniform()) * (scene.height - bh_px);
    bg.box = clip({x1, y1, x1 + bw_px, y1 + bh_px}, scene.width, scene.height);
    bg.label = rng.below(static_cast<int>(w.background_names.size()));
    regions.push_back(bg);
  }
  rng.shuffle(regions);
  for (Entity& e : scene.entities) e.regions.assign(e.count, -1);
  for (int r = 0; r < static_cast<int>(regions.size()); ++r)
    if (regions[r].kind == RegionKind::Object) scene.entities[regions[r].entity].regions[regions[r].instance] = r;
  scene.regions = std::move(regions);
  return true;
}

}  // namespace

float intersection_area(const Box& a, const Box& b) {
  float dx = overlap_1d(a.x1, a.x2, b.x1, b.x2), dy = overlap_1d(a.y1, a.y2, b.y1, b.y2);
  return dx > 0 && dy > 0 ? dx * dy : 0.f;
}

bool geometry_holds(Geometry g, const Box& s, const Box& o, float tol) {
  const bool overlapping = intersection_area(s, o) > 0;
  const bool x_overlapping = overlap_1d(s.x1, s.x2, o.x1, o.x2) > 0;
  switch (g) {
    case Geometry::OnTop:
      return s.y1 < o.y1 + tol && s.cy() < o.cy() + tol && overlapping && s.cx() >= o.x1 - tol && s.cx() <= o.x2 + tol;
    case Geometry::Under:
      return s.cy() > o.cy() - tol && s.y2 > o.y2 - tol && x_overlapping;
    case Geometry::Above:
      return s.y2 <= o.y1 + tol && x_overlapping;
    case Geometry::SideApart:
      return same_ground(s, o, tol) && x_disjoint(s, o, tol);
    case Geometry::SideTouch: {
      float d = std::abs(s.cx() - o.cx()), half_sum = 0.5f * (s.w() + o.w());
      return same_ground(s, o, tol) && d < half_sum && d >= 0.5f * half_sum - tol;
    }
    case Geometry::Behind:
      return s.area() < o.area() && overlapping && s.y2 < o.y2 + tol;
    case Geometry::Front:
      return s.area() > o.area() && overlapping && s.y2 > o.y2 - tol;
    case Geometry::Inside:
      return contained(s, o, tol);
    case Geometry::Contains:
      return contained(o, s, tol) && o.area() < s.area();
    case Geometry::Throw:
      return o.cy() < s.cy() + tol && o.area() < s.area() && x_disjoint(s, o, tol);
    case Geometry::Kick:
      return o.cy() > s.cy() - tol && o.area() < s.area() && std::abs(o.y2 - s.y2) <= 0.1f * s.h() + tol;
  }
  return false;
}

int Scene::num_instances() const {
  int n = 0;
  for (const Entity& e : entities) n += e.count;
  return n;
}

Scene sample_scene(Rng& rng, const SceneOptions& options) {
  for (;;) {
    Scene scene;
    if (try_sample(rng, options, scene)) return scene;
  }
}

bool swap_is_plausible(const Relation& r, const Scene& scene) {
  const World& w = world();
  return w.predicates[r.predicate].allows(w.categories[scene.entities[r.object].category],
                                          w.categories[scene.entities[r.subject].category]);
}

}  // namespace sm::synth
