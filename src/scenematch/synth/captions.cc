#include "scenematch/synth/captions.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace sm::synth {
namespace {

// What one mention of an entity says.
struct NounPhrase {
  int category = 0;
  std::vector<int> attributes;
  int count = 1;
  int synonym = -1;  // -1: the canonical noun
  bool definite = false;
};

int attribute_rank(int a) {  // "a small old red wooden box"
  switch (world().attributes[a].kind) {
    case AttrKind::Size:
      return 0;
    case AttrKind::State:
      return 1;
    case AttrKind::Colour:
      return 2;
    case AttrKind::Material:
      return 3;
  }
  return 4;
}

std::string head_noun(const NounPhrase& np) {
  const Category& c = world().categories[np.category];
  const Noun& n = np.synonym < 0 ? c.noun : c.synonyms[np.synonym];
  return np.count > 1 ? n.plural : n.singular;
}

std::vector<std::string> attribute_words(const NounPhrase& np) {
  std::vector<int> sorted = np.attributes;
  std::stable_sort(sorted.begin(), sorted.end(), [](int a, int b) { return attribute_rank(a) < attribute_rank(b); });
  std::vector<std::string> words;
  for (int a : sorted) words.push_back(world().attributes[a].word);
  return words;
}

const char* number_word(int count) {
  static const char* numbers[] = {"zero", "one", "two", "three", "four"};
  return numbers[count];
}

std::string noun_words(const NounPhrase& np) {  // "small red box"
  std::string words;
  for (const std::string& a : attribute_words(np)) words += a + " ";
  return words + head_noun(np);
}

std::string render(const NounPhrase& np) {
  const std::string rest = noun_words(np);
  std::string det;
  if (np.count > 1)
    det = number_word(np.count);
  else if (np.definite)
    det = "the";
  else
    det = std::string("aeiou").find(rest[0]) != std::string::npos ? "an" : "a";
  return det + " " + rest;
}

// Predicates that "with" can stand for: "a man with a hat".
bool with_fits(const Scene& scene, const Relation& r) {
  const std::string& name = world().predicates[r.predicate].name;
  return (name == "holding" || name == "wearing" || name == "carrying") && scene.entities[r.subject].count == 1 &&
         scene.entities[r.object].count == 1;
}

// Builds one caption, recording what it says as it goes.
class CaptionWriter {
 public:
  CaptionWriter(const Scene& scene, Rng& rng, double count_phrases = 0)
      : scene_(scene), rng_(rng), count_phrases_(count_phrases) {}

  // A mention of an entity: the first one may carry attributes and a
  // synonym, and a group's may be a count phrase; later ones say
  // "the <noun>" as first written.
  std::string mention(int entity) {
    auto it = words_.find(entity);
    const Entity& e = scene_.entities[entity];
    if (it != words_.end()) {
      collective_.erase(entity);
      return "the " + it->second;
    }
    NounPhrase np;
    np.category = e.category;
    np.count = e.count;
    for (int a : e.attributes)
      if (rng_.chance(0.6)) np.attributes.push_back(a);
    const Category& c = world().categories[e.category];
    if (!c.synonyms.empty() && rng_.chance(0.3)) np.synonym = rng_.below(static_cast<int>(c.synonyms.size()));
    np.definite = e.count == 1 && rng_.chance(0.15);
    words_[entity] = head_noun(np);
    caption_.objects.push_back({head_noun(np), attribute_words(np), np.count});
    // Drawn only when asked for, so the other presets' captions stay as they were.
    if (np.count > 1 && count_phrases_ > 0 && rng_.chance(count_phrases_)) {
      collective_.insert(entity);
      if (np.count == 2 && rng_.chance(0.5)) return "a pair of " + noun_words(np);
      return std::string("a group of ") + number_word(np.count) + " " + noun_words(np);
    }
    return render(np);
  }
  std::string predicate(const Relation& r) {
    const Predicate& p = world().predicates[r.predicate];
    std::string surface = rng_.pick(p.surfaces);
    // Both mentions are made before the predicate is recorded.
    pending_.push_back({r.subject, surface, r.object});
    return surface;
  }
  // A relation said with other words and roles, recorded as written.
  std::string said(int subject, const std::string& words, int object) {
    pending_.push_back({subject, words, object});
    return words;
  }
  std::string with(const Relation& r) {
    pending_.push_back({r.subject, "with", r.object});
    return "with";
  }
  // "a group of three dogs is", "the dogs are".
  std::string be(int entity) const {
    return scene_.entities[entity].count > 1 && !collective_.count(entity) ? "are" : "is";
  }
  Caption finish(const std::string& text) {
    for (const auto& p : pending_)
      caption_.relations.push_back({words_.at(p.subject), p.predicate, words_.at(p.object)});
    caption_.text = text;
    return caption_;
  }

 private:
  struct Pending {
    int subject;
    std::string predicate;
    int object;
  };
  const Scene& scene_;
  Rng& rng_;
  double count_phrases_;  // chance a group's first mention is "a pair of" / "a group of N"
  Caption caption_;
  std::map<int, std::string> words_;
  std::set<int> collective_;  // entities last mentioned by a count phrase
  std::vector<Pending> pending_;
};

// Passive participles of the actions that have one, converses of the places.
const std::map<std::string, std::string>& passives() {
  static const std::map<std::string, std::string> m = {
      {"riding", "ridden"},    {"holding", "held"},   {"chasing", "chased"},  {"eating", "eaten"},
      {"throwing", "thrown"},  {"wearing", "worn"},   {"pulling", "pulled"},  {"looking at", "looked at"},
      {"carrying", "carried"}, {"feeding", "fed"},    {"petting", "petted"},  {"kicking", "kicked"},
      {"watching", "watched"}, {"hugging", "hugged"}, {"pushing", "pushed"},  {"following", "followed"},
      {"using", "used"},       {"reading", "read"},   {"sniffing", "sniffed"}};
  return m;
}
const std::map<std::string, std::string>& converses() {
  static const std::map<std::string, std::string> m = {{"on", "under"},           {"under", "on"},
                                                       {"above", "below"},        {"behind", "in front of"},
                                                       {"in front of", "behind"}, {"inside", "containing"}};
  return m;
}

// The relation the other way round, or false when its predicate has no
// passive or converse. Passives are recorded as the parser reads them (agent,
// participle, patient: docs/parsing.md); converses as written.
bool reversed_relation(const Scene& scene, const Relation& r, Rng& rng, Caption& out, double count_phrases) {
  const std::string& name = world().predicates[r.predicate].name;
  CaptionWriter w(scene, rng, count_phrases);
  if (auto p = passives().find(name); p != passives().end()) {
    std::string patient = w.mention(r.object);
    const std::string pp = w.said(r.subject, p->second, r.object);
    std::string agent = w.mention(r.subject);
    switch (rng.below(3)) {
      case 0:  // "a cat being chased by a dog"
        out = w.finish(patient + " being " + pp + " by " + agent);
        break;
      case 1:  // "a cat is chased by a dog"
        out = w.finish(patient + " " + w.be(r.object) + " " + pp + " by " + agent);
        break;
      default:  // "a cat that is being chased by a dog"
        out = w.finish(patient + " that " + w.be(r.object) + " being " + pp + " by " + agent);
    }
    return true;
  }
  if (auto c = converses().find(name); c != converses().end()) {
    std::string o = w.mention(r.object);
    const std::string words = w.said(r.object, c->second, r.subject);
    std::string s = w.mention(r.subject);
    // "a table under a cup", "a box is containing a cat" reads badly: the clause form only for places.
    if (c->second != "containing" && rng.chance(0.5))
      out = w.finish(o + " " + w.be(r.object) + " " + words + " " + s);
    else
      out = w.finish(o + " " + words + " " + s);
    return true;
  }
  return false;
}

Caption one_relation(const Scene& scene, const Relation& r, Rng& rng, const CaptionStyle& style) {
  // Drawn only when asked for, so the other presets' captions stay as they were.
  if (style.paraphrase > 0 && rng.chance(style.paraphrase)) {
    Caption reversed;
    if (reversed_relation(scene, r, rng, reversed, style.count_phrases)) return reversed;
  }
  CaptionWriter w(scene, rng, style.count_phrases);
  int form = rng.below(with_fits(scene, r) ? 5 : 3);
  std::string s = w.mention(r.subject);
  switch (form) {
    case 0: {  // "a dog chasing a cat"
      std::string p = w.predicate(r);
      return w.finish(s + " " + p + " " + w.mention(r.object));
    }
    case 1: {  // "a dog is chasing a cat"
      std::string p = w.predicate(r);
      return w.finish(s + " " + w.be(r.subject) + " " + p + " " + w.mention(r.object));
    }
    case 2: {  // "there is a dog chasing a cat"
      std::string p = w.predicate(r);
      return w.finish("there " + w.be(r.subject) + " " + s + " " + p + " " + w.mention(r.object));
    }
    case 3: {  // "a man with a red hat"
      std::string p = w.with(r);
      return w.finish(s + " " + p + " " + w.mention(r.object));
    }
    default: {  // "there is a man with a red hat"
      std::string p = w.with(r);
      return w.finish("there is " + s + " " + p + " " + w.mention(r.object));
    }
  }
}

// "a dog is chasing a cat": subject, verb "be", predicate, object.
std::string clause(CaptionWriter& w, const Relation& r) {
  std::string s = w.mention(r.subject);
  std::string p = w.predicate(r);
  std::string o = w.mention(r.object);
  return s + " " + w.be(r.subject) + " " + p + " " + o;
}

Caption two_relations(const Scene& scene, Relation a, Relation b, Rng& rng, const CaptionStyle& style) {
  CaptionWriter w(scene, rng, style.count_phrases);
  // Two sentences, tokenised as the field's caption files are: "a man is
  // holding a dog . the dog is chasing a cat" (what the first names, the
  // second names again as "the dog"). Drawn only when asked for.
  if (style.two_sentences > 0 && rng.chance(style.two_sentences)) {
    std::string first = clause(w, a);
    return w.finish(first + " . " + clause(w, b));
  }
  if (a.subject == b.subject) {
    if (with_fits(scene, b) && !with_fits(scene, a)) std::swap(a, b);
    std::string s = w.mention(a.subject);
    if (with_fits(scene, a) && rng.chance(0.5)) {  // "a man with a hat riding a horse"
      std::string with = w.with(a);
      std::string oa = w.mention(a.object);
      std::string pb = w.predicate(b);
      return w.finish(s + " " + with + " " + oa + " " + pb + " " + w.mention(b.object));
    }
    // "a man riding a horse and holding a cup", "a cup is on a table and next to a plate"
    std::string lead = rng.chance(0.5) ? s + " " + w.be(a.subject) : s;
    std::string pa = w.predicate(a);
    std::string oa = w.mention(a.object);
    std::string pb = w.predicate(b);
    return w.finish(lead + " " + pa + " " + oa + " and " + pb + " " + w.mention(b.object));
  }
  if (a.subject == b.object) std::swap(a, b);
  if (b.subject == a.object) {
    std::string s = w.mention(a.subject);
    std::string pa = w.predicate(a);
    std::string oa = w.mention(a.object);
    std::string pb = w.predicate(b);
    std::string ob = w.mention(b.object);
    if (world().predicates[b.predicate].is_action())  // "a man holding a dog that is chasing a cat"
      return w.finish(s + " " + pa + " " + oa + " that " + w.be(b.subject) + " " + pb + " " + ob);
    return w.finish(s + " " + pa + " " + oa + " " + pb + " " + ob);  // "a dog chasing a ball near a tree"
  }
  // Two clauses: "a man is riding a horse and a dog is chasing a cat".
  std::string first = clause(w, a);
  return w.finish(first + " and " + clause(w, b));
}

NounPhrase full_phrase(const Scene& scene, int entity) {
  NounPhrase np;
  np.category = scene.entities[entity].category;
  np.attributes = scene.entities[entity].attributes;
  np.count = scene.entities[entity].count;
  return np;
}

std::string probe_text(const NounPhrase& s, const Relation& r, const NounPhrase& o) {
  return render(s) + " " + world().predicates[r.predicate].name + " " + render(o);
}

bool has_attribute(const Entity& e, int a) {
  return std::find(e.attributes.begin(), e.attributes.end(), a) != e.attributes.end();
}

}  // namespace

std::string Caption::gt_json() const {
  nlohmann::json j;
  j["objects"] = nlohmann::json::array();
  for (const GtObject& o : objects)
    j["objects"].push_back({{"word", o.word}, {"attributes", o.attributes}, {"count", o.count}});
  j["relations"] = nlohmann::json::array();
  for (const GtRelation& r : relations)
    j["relations"].push_back({{"subject", r.subject}, {"predicate", r.predicate}, {"object", r.object}});
  return j.dump();
}

std::vector<Caption> make_captions(const Scene& scene, Rng& rng, int count, const CaptionStyle& style) {
  std::vector<Caption> captions;
  const int relations = static_cast<int>(scene.relations.size());
  for (int tries = 0; static_cast<int>(captions.size()) < count && tries < 50 * count; ++tries) {
    int a = rng.below(relations);
    Caption c;
    if (relations > 1 && rng.chance(0.45)) {
      int b = rng.below(relations - 1);
      if (b >= a) ++b;
      c = two_relations(scene, scene.relations[a], scene.relations[b], rng, style);
    } else {
      c = one_relation(scene, scene.relations[a], rng, style);
    }
    bool seen = std::any_of(captions.begin(), captions.end(), [&](const Caption& o) { return o.text == c.text; });
    if (!seen) captions.push_back(std::move(c));
  }
  return captions;
}

std::vector<ProbeText> make_probes(const Scene& scene, Rng& rng, bool reversed_phrasing) {
  const World& w = world();
  std::vector<ProbeText> probes;
  std::vector<int> order(scene.relations.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  rng.shuffle(order);

  // relation-swap: prefer a relation that also reads plausibly the other way
  // round, so text plausibility alone cannot tell the two captions apart.
  {
    int chosen = order[0];
    for (int i : order)
      if (swap_is_plausible(scene.relations[i], scene)) {
        chosen = i;
        break;
      }
    const Relation& r = scene.relations[chosen];
    NounPhrase s = full_phrase(scene, r.subject), o = full_phrase(scene, r.object);
    probes.push_back({"relation-swap", probe_text(s, r, o), probe_text(o, r, s), swap_is_plausible(r, scene), chosen});
    // The same swap said the other way round ("a man being chased by a dog" /
    // "a dog being chased by a man"): whether a model's roles survive the
    // passive and converse forms its training captions use.
    if (reversed_phrasing) {
      const std::string& name = w.predicates[r.predicate].name;
      std::string words;
      if (auto p = passives().find(name); p != passives().end()) words = "being " + p->second + " by";
      if (auto c = converses().find(name); c != converses().end()) words = c->second;
      if (!words.empty())
        probes.push_back({"relation-swap-reversed", render(o) + " " + words + " " + render(s),
                          render(s) + " " + words + " " + render(o), swap_is_plausible(r, scene), chosen});
    }
  }

  // attribute-swap: one attribute of the subject and one of the object
  // exchanged, each fitting its new noun and false of it in the scene.
  for (int i : order) {
    const Relation& r = scene.relations[i];
    const Entity& se = scene.entities[r.subject];
    const Entity& oe = scene.entities[r.object];
    bool done = false;
    for (int as : se.attributes) {
      for (int ao : oe.attributes) {
        if (as == ao || has_attribute(se, ao) || has_attribute(oe, as)) continue;
        if (!w.attribute_fits(ao, se.category) || !w.attribute_fits(as, oe.category)) continue;
        NounPhrase s = full_phrase(scene, r.subject), o = full_phrase(scene, r.object);
        s.attributes = {as};
        o.attributes = {ao};
        std::string positive = probe_text(s, r, o);
        std::swap(s.attributes, o.attributes);
        probes.push_back({"attribute-swap", positive, probe_text(s, r, o)});
        done = true;
        break;
      }
      if (done) break;
    }
    if (done) break;
  }

  // object-swap: the subject or the object replaced by a category absent
  // from the scene that the predicate and the attributes still fit.
  {
    const Relation& r = scene.relations[order[0]];
    std::vector<bool> used(w.categories.size(), false);
    for (const Entity& e : scene.entities) used[e.category] = true;
    bool replace_subject = rng.chance(0.5);
    for (int attempt = 0; attempt < 4; ++attempt) {
      bool subject_side = (attempt % 2 == 0) == replace_subject;
      bool keep_attributes = attempt < 2;
      NounPhrase s = full_phrase(scene, r.subject), o = full_phrase(scene, r.object);
      NounPhrase& target = subject_side ? s : o;
      if (!keep_attributes) target.attributes.clear();
      std::vector<int> candidates;
      for (int c = 0; c < static_cast<int>(w.categories.size()); ++c) {
        if (used[c]) continue;
        const Category& sc = subject_side ? w.categories[c] : w.categories[s.category];
        const Category& oc = subject_side ? w.categories[o.category] : w.categories[c];
        bool attributes_fit = std::all_of(target.attributes.begin(), target.attributes.end(),
                                          [&](int a) { return w.attribute_fits(a, c); });
        if (attributes_fit && w.predicates[r.predicate].allows(sc, oc)) candidates.push_back(c);
      }
      if (candidates.empty()) continue;
      std::string positive = probe_text(s, r, o);
      target.category = rng.pick(candidates);
      probes.push_back({"object-swap", positive, probe_text(s, r, o)});
      break;
    }
  }

  // count: a group's number changed ("two dogs" / "three dogs"), else a
  // single object made two.
  {
    int relation = order[0], entity = -1;
    for (int i : order) {
      const Relation& r = scene.relations[i];
      if (scene.entities[r.subject].count > 1) entity = r.subject;
      if (scene.entities[r.object].count > 1) entity = r.object;
      if (entity >= 0) {
        relation = i;
        break;
      }
    }
    const Relation& r = scene.relations[relation];
    if (entity < 0) entity = rng.chance(0.5) ? r.subject : r.object;
    NounPhrase s = full_phrase(scene, r.subject), o = full_phrase(scene, r.object);
    std::string positive = probe_text(s, r, o);
    NounPhrase& target = entity == r.subject ? s : o;
    target.count = target.count == 2 ? 3 : 2;
    probes.push_back({"count", positive, probe_text(s, r, o)});
  }
  return probes;
}

}  // namespace sm::synth
