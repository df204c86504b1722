// Scene-graph extraction rules over a token linkage (see scene_rules.h).
#include "scenematch/text/scene_rules.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>
#include <unordered_set>

namespace sm {

bool ends_with(const std::string& w, const char* suffix) {
  const size_t n = std::char_traits<char>::length(suffix);
  return w.size() > n + 1 && w.compare(w.size() - n, n, suffix) == 0;
}

namespace {

// Nouns that, followed by "of", are part of a spatial preposition
// ("on top of", "in front of", "on the side of").
bool relational_noun(const std::string& w) {
  static const std::unordered_set<std::string> s = {"top",    "front",  "middle", "side", "back", "edge",  "bottom",
                                                    "center", "centre", "corner", "end",  "rear", "inside"};
  return s.count(w) > 0;
}

// "on a sunny day", "at night": when, not where; no relation
bool time_noun(const std::string& w) {
  static const std::unordered_set<std::string> s = {"day",     "days", "night", "nights", "morning", "afternoon",
                                                    "evening", "time", "dusk",  "dawn",   "sunset",  "sunrise"};
  return s.count(w) > 0;
}

void sort_unique(std::vector<int>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

bool is_be_form(const std::string& w) {
  static const std::unordered_set<std::string> s = {"is",   "are",   "was", "were", "be",
                                                    "been", "being", "am",  "'re",  "'m"};
  return s.count(w) > 0;
}

bool is_animate_noun(const std::string& w) {
  static const std::unordered_set<std::string> s = {
      "man",          "men",           "woman",       "women",        "person",      "people",     "persons",
      "boy",          "boys",          "girl",        "girls",        "child",       "children",   "kid",
      "kids",         "baby",          "babies",      "toddler",      "toddlers",    "guy",        "guys",
      "lady",         "ladies",        "gentleman",   "gentlemen",    "adult",       "adults",     "teenager",
      "teenagers",    "teen",          "teens",       "player",       "players",     "worker",     "workers",
      "workman",      "workmen",       "crowd",       "group",        "team",        "couple",     "family",
      "friends",      "friend",        "mother",      "father",       "mom",         "dad",        "son",
      "daughter",     "student",       "students",    "skier",        "skiers",      "surfer",     "surfers",
      "skateboarder", "skateboarders", "snowboarder", "rider",        "riders",      "biker",      "bikers",
      "cyclist",      "cyclists",      "bicyclist",   "motorcyclist", "athlete",     "athletes",   "dancer",
      "dancers",      "musician",      "musicians",   "band",         "officer",     "officers",   "policeman",
      "police",       "soldier",       "soldiers",    "chef",         "cook",        "vendor",     "vendors",
      "tourist",      "tourists",      "traveler",    "travelers",    "passenger",   "passengers", "audience",
      "spectators",   "spectator",     "performer",   "performers",   "singer",      "climber",    "swimmer",
      "runner",       "runners",       "driver",      "pedestrian",   "pedestrians", "customer",   "customers",
      "seamen",       "fisherman",     "farmer",      "photographer", "individual",  "someone",    "dog",
      "dogs",         "puppy",         "cat",         "cats",         "kitten",      "horse",      "horses",
      "cow",          "cows",          "sheep",       "elephant",     "elephants",   "giraffe",    "giraffes",
      "zebra",        "zebras",        "bear",        "bears",        "bird",        "birds",      "animal",
      "animals",      "goat",          "goats",       "pony",         "monkey",      "duck",       "ducks",
      "pigeon",       "pigeons",       "seagull",     "cattle",       "herd",        "deer",       "lamb",
      "calf",         "bull",          "camel",       "pig",          "squirrel"};
  return s.count(w) > 0;
}

bool is_colour_word(const std::string& w) {
  static const std::unordered_set<std::string> s = {"white", "black",  "red",  "blue",   "green", "yellow",
                                                    "brown", "orange", "pink", "purple", "gray",  "grey",
                                                    "tan",   "silver", "gold", "golden", "beige", "maroon"};
  return s.count(w) > 0;
}

bool is_partitive_noun(const std::string& w) {
  static const std::unordered_set<std::string> s = {"lots", "lot",   "number",  "group",   "bunch",  "couple",
                                                    "pair", "piece", "pieces",  "body",    "set",    "kind",
                                                    "sort", "type",  "variety", "handful", "plenty", "dozen"};
  return s.count(w) > 0;
}

bool is_quantity_noun(const std::string& w) {
  static const std::unordered_set<std::string> s = {"lots", "lot",  "number", "group", "couple",  "body",   "kind",
                                                    "sort", "type", "plenty", "dozen", "handful", "variety"};
  return s.count(w) > 0;
}

bool is_adjective_noun(const std::string& w) {
  static const std::unordered_set<std::string> s = {"giant",   "miniature", "makeshift", "outside",
                                                    "outdoor", "indoor",    "mini",      "huge"};
  return s.count(w) > 0;
}

bool is_determiner_adjective(const std::string& w) {
  static const std::unordered_set<std::string> s = {"next", "same", "other"};
  return s.count(w) > 0;
}

int number_value(const std::string& w) {
  static const std::unordered_map<std::string, int> words = {
      {"one", 1},    {"two", 2},   {"three", 3},  {"four", 4},    {"five", 5},    {"six", 6},
      {"seven", 7},  {"eight", 8}, {"nine", 9},   {"ten", 10},    {"eleven", 11}, {"twelve", 12},
      {"dozen", 12}, {"pair", 2},  {"couple", 2}, {"twenty", 20}, {"thirty", 30}, {"hundred", 100}};
  if (auto it = words.find(w); it != words.end()) return it->second;
  if (!w.empty() && w.size() < 7 && std::all_of(w.begin(), w.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::stoi(w);
  return 0;
}

int implausibility(const std::vector<std::string>& words, const std::vector<std::string>& subscripts,
                   const std::vector<Link>& links) {
  auto verb = [&](size_t w) { return !subscripts[w].empty() && subscripts[w][0] == 'v'; };
  int score = 0;
  for (size_t w = 0; w < words.size(); ++w) {
    if (!verb(w)) continue;
    score += is_animate_noun(words[w]) || is_colour_word(words[w]);
    score += w > 0 && is_colour_word(words[w - 1]);
  }
  // In captions "being" is an auxiliary ("human being" aside). After a form
  // of "be" ("is being held by") it must carry a participle (P), never be a
  // noun or a subject; elsewhere it must not be read as a noun compounded
  // into its subject ("a small flower being.n sniffed by a cow").
  for (size_t w = 0; w < words.size(); ++w) {
    if (words[w] != "being") continue;
    if (w > 0 && is_be_form(words[w - 1]))
      score += std::none_of(links.begin(), links.end(), [&](const Link& l) {
        return l.left == static_cast<int>(w) && l.base == "P" && l.right > l.left;
      });
    else
      score += !subscripts[w].empty() && subscripts[w][0] == 'n' && !(w > 0 && words[w - 1] == "human");
  }
  for (const Link& l : links) {
    if (l.base != "AN" || !ends_with(words[l.right], "ing")) continue;
    const bool takes_phrase = std::any_of(links.begin(), links.end(), [&](const Link& m) {
      return m.left == l.right && (m.base == "M" || m.base == "MV");
    });
    score += is_animate_noun(words[l.left]) || takes_phrase;
  }
  // "a man is [crouched] on top of": a participle after "be" left out of a
  // partial linkage, which hangs the predicate on "be"; the linkage that
  // leaves out "is" keeps it
  std::vector<bool> linked(words.size(), false);
  for (const Link& l : links) linked[l.left] = linked[l.right] = true;
  for (size_t w = 1; w < words.size(); ++w)
    score += !linked[w] && is_be_form(words[w - 1]) && ends_with(words[w], "ed");
  // "young girl reaches.n out": a person or animal compounded with a plural
  // right before a particle; that plural is the verb
  static const std::unordered_set<std::string> particles = {"out", "up", "down", "off", "away", "back"};
  for (const Link& l : links)
    score += l.base == "AN" && is_animate_noun(words[l.left]) && ends_with(words[l.right], "s") &&
             l.right + 1 < static_cast<int>(words.size()) && particles.count(words[l.right + 1]);
  return score;
}

SceneRules::SceneRules(const CaptionGraph& g, const TokenLinkage& lk)
    : tokens_(g.tokens), pos_(g.pos), lk_(lk), n_(static_cast<int>(g.tokens.size())), at_(n_) {
  for (int k = 0; k < static_cast<int>(lk.links.size()); ++k) {
    at_[lk.links[k].left].push_back(k);
    at_[lk.links[k].right].push_back(k);
  }
}

// Calls f(other end, link) for each link at t with this base, where t is the
// left end (dir > 0), the right end (dir < 0) or either (dir == 0).
template <class F>
void SceneRules::each(int t, const char* base, int dir, F&& f) const {
  for (int k : at_[t]) {
    const Link& l = lk_.links[k];
    if (l.base != base) continue;
    if (l.left == t && dir >= 0) f(l.right, l);
    if (l.right == t && dir <= 0) f(l.left, l);
  }
}

std::vector<int> SceneRules::coordinated(int t) const {
  std::vector<int> members, todo = {t};
  std::set<int> seen;
  while (!todo.empty() && seen.size() < 16) {
    const int c = todo.back();
    todo.pop_back();
    if (!seen.insert(c).second) continue;
    if (pos_[c] != Pos::CCONJ && c != t) {
      members.push_back(c);
      continue;
    }
    bool conjunction = false;
    if (pos_[c] == Pos::CCONJ)
      for (int k : at_[c]) {
        const Link& l = lk_.links[k];
        if (l.base.size() == 2 && l.base[1] == 'J') {
          todo.push_back(l.left == c ? l.right : l.left);
          conjunction = true;
        }
      }
    if (!conjunction) members.push_back(c);
  }
  sort_unique(members);
  return members;
}

int SceneRules::read_through(int t) const {
  for (int depth = 0; depth < 3 && is_partitive_noun(word(t)); ++depth) {
    int target = -1;
    for (int k : at_[t]) {
      const Link& l = lk_.links[k];
      if (l.left == t && word(l.right) == "of" && (l.base == "M" || l.base == "OF"))
        each(l.right, "J", +1, [&](int o, const Link&) { target = o; });
    }
    // "with lots of hair": Link Grammar may hang the "of" right after it elsewhere
    if (target < 0 && t + 1 < n_ && word(t + 1) == "of") each(t + 1, "J", +1, [&](int o, const Link&) { target = o; });
    if (target < 0) break;
    t = target;
  }
  return t;
}

std::vector<int> SceneRules::nouns(int t) const {
  std::vector<int> out;
  for (int m : coordinated(t))
    for (int r : coordinated(read_through(m))) {  // "lots of hair and a jacket"
      if (!noun(r)) continue;
      out.push_back(container(r));
      if (const int rest = list_rest(r); rest >= 0)
        for (int more : nouns(rest)) out.push_back(more);
      if (const int more = clause_rest(r); more >= 0) out.push_back(more);
    }
  return out;
}

int SceneRules::container(int t) const {
  int found = t;
  each(t, "D", -1, [&](int d, const Link&) {
    if (!noun(d) || is_partitive_noun(word(d))) return;  // "a bunch of bananas": read through
    each(d, "OF", +1, [&](int of, const Link&) {
      each(of, "J", +1, [&](int o, const Link&) {
        if (o == t) found = d;
      });
    });
  });
  return found;
}

int SceneRules::list_rest(int t) const {
  const int comma = t + 1;
  if (comma >= n_ || word(comma) != ",") return -1;
  for (int k : at_[comma])
    if (lk_.links[k].left <= t) return -1;  // the comma belongs to what comes before
  // the first member's phrase starts right after the comma
  int first = comma + 1;
  while (first < n_ && (pos_[first] == Pos::DET || pos_[first] == Pos::ADJ || pos_[first] == Pos::NUM)) ++first;
  while (first + 1 < n_ && noun(first + 1)) ++first;  // "coffee brewer"
  if (first >= n_ || !noun(first)) return -1;
  int conjunction = -1;
  each(first, "SJ", +1, [&](int c, const Link&) {
    if (pos_[c] == Pos::CCONJ) conjunction = c;
  });
  if (conjunction < 0) return -1;
  for (int k : at_[conjunction]) {
    const Link& l = lk_.links[k];
    if (l.left <= t && l.right == conjunction) return -1;  // attached before t: not t's list
  }
  return conjunction;
}

int SceneRules::clause_rest(int t) const {
  const int c = t + 1;
  if (c >= n_ || pos_[c] != Pos::CCONJ || is_animate_noun(word(t))) return -1;
  // "a cow is pulling a sled and a scooter is beside the sled": two clauses
  for (const Link& l : lk_.links)
    if (l.base == "S" && l.right < c) return -1;
  int subject = -1;
  for (int k : at_[c]) {
    const Link& l = lk_.links[k];
    if (l.base.size() == 2 && l.base[1] == 'J') return -1;  // a coordination of its own
    if (l.base == "W" && l.left == c && noun(l.right) && !is_animate_noun(word(l.right))) subject = l.right;
  }
  return subject;
}

int SceneRules::antecedent(int pronoun) const {
  if (pronoun > 0 && noun(pronoun - 1) && is_animate_noun(word(pronoun - 1))) return pronoun - 1;
  int linked = -1;
  each(pronoun, "R", -1, [&](int t, const Link&) { linked = t; });
  if (linked >= 0) return linked;
  return pronoun > 0 && noun(pronoun - 1) ? pronoun - 1 : -1;
}

int SceneRules::of_head(int t) const {
  if (is_animate_noun(word(t))) return t;
  int head = t;
  each(t, "J", -1, [&](int of, const Link&) {
    // "on top of a log next to a snowboard": the "of" of a spatial preposition
    if (word(of) != "of" || relational_noun(word(of - 1))) return;
    each(of, "M", -1, [&](int h, const Link&) {
      if (noun(h) && !is_partitive_noun(word(h)) && !relational_noun(word(h))) head = h;
    });
  });
  return head;
}

int SceneRules::idiom_start(int t, Pos pos) const {
  for (int k : at_[t]) {
    const Link& l = lk_.links[k];
    if (l.right == t && !l.base.empty() && l.base[0] == '_' && pos_[l.left] == pos) return l.left;
  }
  return -1;
}

bool SceneRules::verb_idiom_head(int t) const {
  return particle_word(t) && idiom_start(t, Pos::VERB) >= 0 && phrase_objects(t).empty();
}

bool SceneRules::passive(int v) const {
  if ((pos_[v] != Pos::VERB && !verb_idiom_head(v)) || ends_with(word(v), "ing")) return false;
  for (int k : at_[v]) {
    const Link& l = lk_.links[k];
    if (l.right != v || l.sub.empty()) continue;
    if ((l.base == "P" || l.base == "M") && l.sub[0] == 'v') return true;          // "is chased", "a plate topped"
    if (l.base == "P" && l.sub[0] == 'a' && word(l.left) == "being") return true;  // "being ridden" read as Pa
    if (l.base == "S" && word(l.left) == "being") return true;  // "is being held" with "being" as its subject
  }
  return false;
}

int SceneRules::semantic_subject(int noun_token, int verb) const {
  if (is_animate_noun(word(noun_token)) || !ends_with(word(verb), "ing") || be(verb)) return noun_token;
  int t = noun_token;
  for (int depth = 0; depth < 3; ++depth) {
    // the noun, or the conjunction it is a member of ("a shirt and shorts")
    std::vector<int> ends = {t};
    each(t, "SJ", 0, [&](int c, const Link&) {
      if (pos_[c] == Pos::CCONJ) ends.push_back(c);
    });
    int parent = -1;
    // ("a boy and a woman are on a sled , sliding": the coordination, so
    // that both slide)
    auto take_subject_of = [&](int u) {
      if (!verbal(u) || u >= verb) return;
      for (int s : subjects(u)) parent = s;
      for (const char* base : {"S", "M"})
        each(u, base, -1, [&](int s, const Link&) {
          if (animate_coordination(s)) parent = s;
        });
    };
    for (int e : ends) {
      // "people under a tent playing", "people sitting under a tent playing"
      each(e, "J", -1, [&](int p, const Link&) {
        for (int k : at_[p]) {
          const Link& l = lk_.links[k];
          if (l.right != p || !(l.base == "M" || l.base == "MV" || l.base == "P")) continue;
          if (noun(l.left) || animate_coordination(l.left)) parent = l.left;
          take_subject_of(l.left);
        }
      });
      // "a man walking down a street holding an umbrella"
      each(e, "O", -1, [&](int u, const Link&) { take_subject_of(u); });
    }
    if (parent < 0) break;
    if (is_animate_noun(word(parent)) || animate_coordination(parent)) return parent;
    t = parent;
  }
  return noun_token;
}

bool SceneRules::animate_coordination(int t) const {
  if (pos_[t] != Pos::CCONJ) return false;
  const auto members = nouns(t);
  return !members.empty() &&
         std::all_of(members.begin(), members.end(), [&](int m) { return is_animate_noun(word(m)); });
}

int SceneRules::passive_participle(int h) const {
  for (int k : at_[h]) {
    const Link& l = lk_.links[k];
    if (l.left != h || !(l.base == "M" || l.base == "P" || l.base == "O")) continue;
    if (passive(l.right)) return l.right;
    if (word(l.right) == "being")
      for (int j : at_[l.right]) {
        const Link& m = lk_.links[j];
        if (m.left == l.right && (m.base == "M" || m.base == "P") && passive(m.right)) return m.right;
      }
  }
  return -1;
}

std::vector<int> SceneRules::subjects(int v) const { return subjects(v, v, 0); }

// `action` is the verb whose subjects are asked for, `v` the auxiliary or
// verb reached from it on the way to a subject.
std::vector<int> SceneRules::subjects(int action, int v, int depth) const {
  std::vector<int> out;
  if (depth > 6) return out;
  auto add_nouns = [&](int t, const Link&) {
    for (int m : nouns(t)) out.push_back(m);
  };
  auto add_doers = [&](int t, const Link&) {
    for (int m : nouns(t))
      for (int doer : nouns(semantic_subject(m, action))) out.push_back(doer);
  };
  auto add_subjects_of = [&](int u) {
    auto s = subjects(action, u, depth + 1);
    out.insert(out.end(), s.begin(), s.end());
  };
  // "women dressed in skirts and clothes are dancing": Link Grammar may take
  // the clothes for the subject
  each(v, "S", -1, add_doers);
  each(v, "SI", +1, add_nouns);
  // "a woman is being held": Link Grammar may take "being" for the
  // participle's subject and leave it unlinked to "is"
  each(v, "S", -1, [&](int being, const Link&) {
    if (word(being) == "being") add_subjects_of(being);
  });
  if (word(v) == "being" && v > 0 && be(v - 1)) {
    bool linked = false;
    for (int k : at_[v]) linked |= lk_.links[k].left == v - 1;
    if (!linked) add_subjects_of(v - 1);
  }
  // "a man who is riding", "an elephant that is standing"
  each(v, "RS", -1, [&](int who, const Link& l) {
    if (const int t = antecedent(who); t >= 0) add_doers(t, l);
  });
  // "a elephant that is standing": a relative pronoun Link Grammar takes
  // for the subject, its antecedent left unlinked
  each(v, "S", -1, [&](int who, const Link& l) {
    bool relative = word(who) == "that" || word(who) == "who" || word(who) == "which";
    each(who, "R", -1, [&](int, const Link&) { relative = false; });  // RS handles those
    if (relative && antecedent(who) >= 0) add_doers(antecedent(who), l);
  });
  for (int k : at_[v]) {
    const Link& l = lk_.links[k];
    if (l.right != v || l.sub.empty()) continue;
    // "jumping while holding a ball": the subject of the verb "while" is on
    // "a woman with a beanie while milking animals": "while" on a noun
    if (l.base == "M" && pos_[l.left] == Pos::SCONJ) {
      each(l.left, "MV", -1, [&](int u, const Link&) { add_subjects_of(u); });
      each(l.left, "M", -1, [&](int t, const Link& m) {
        if (noun(t)) add_nouns(t, m);
      });
      continue;
    }
    // "a dog chasing", "a plate topped with", "a skateboard, holding a phone"
    // "is being held": the participle on "being" shares its subject
    if (l.base == "M" && verbal(l.left)) {
      add_subjects_of(l.left);
      continue;
    }
    if ((l.base == "M" && (l.sub[0] == 'g' || l.sub[0] == 'v')) || (l.base == "MX" && verbal(v))) add_doers(l.left, l);
  }
  for (int k : at_[v]) {
    const Link& l = lk_.links[k];
    if (l.right != v) continue;
    // auxiliaries, infinitives, the gerund Link Grammar gives "are sitting",
    // and verb complements ("sitting down smoking")
    const bool chain = l.base == "P" || l.base == "PP" || l.base == "I" || l.base == "TO" ||
                       (l.base == "O" && be(l.left) && (pos_[v] == Pos::VERB || be(v))) || complement(l.left, v) ||
                       (l.base == "MV" && !l.sub.empty() && l.sub[0] == 'g') ||
                       // "reaches out to pet a deer": an infinitive of purpose (MVi) is the verb's subject's
                       (l.base == "MV" && l.sub == "i" && word(v) == "to");
    if (chain) add_subjects_of(l.left);
  }
  // "a woman dressed in white , skiing down a slope": a participle hung on
  // the comma (Wg) is said of the clause before it
  each(v, "W", -1, [&](int comma, const Link&) {
    if (word(comma) != ",") return;
    for (int u = comma - 1; u >= 0 && out.empty(); --u)
      if (verbal(u)) add_subjects_of(u);
  });
  // coordinated verbs share the coordination's subject
  each(v, "VJ", 0, [&](int c, const Link&) {
    if (pos_[c] == Pos::CCONJ) add_subjects_of(c);
  });
  sort_unique(out);
  return out;
}

std::vector<int> SceneRules::phrase(int t) const {
  std::vector<int> out = {t};
  for (size_t i = 0; i < out.size(); ++i)
    for (int k : at_[out[i]]) {
      const Link& l = lk_.links[k];
      // "sitting down" read as a predicative adjective (Pa) is a particle
      // too, when it follows the verb: in "men look at the camera while
      // hanging out" Link Grammar links "look" to the other verb's "out"
      const bool particle =
          l.left == out[i] &&
          (l.base == "K" || (l.base == "P" && l.sub == "a" && l.right == l.left + 1 && particle_word(l.right)));
      if (l.base.empty() || (l.base[0] != '_' && !particle)) continue;
      for (int m : {l.left, l.right})
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
  // "tables in front of a building": Link Grammar may hang "front" (with
  // its idiom "in") and "of" on the noun separately
  if (word(t) == "of" && t > 0 && relational_noun(word(t - 1))) {
    const auto idiom = phrase(t - 1);
    if (idiom.size() > 1) out.insert(out.end(), idiom.begin(), idiom.end());
  }
  // "next to" / "close to" / "outside of" when not parsed as an idiom
  if (t > 0 && ((word(t) == "to" && (word(t - 1) == "next" || word(t - 1) == "close")) ||
                (word(t) == "of" && (word(t - 1) == "outside" || word(t - 1) == "out"))))
    out.push_back(t - 1);
  sort_unique(out);
  return out;
}

std::vector<int> SceneRules::doers_by_before(int v, int p) const {
  std::vector<int> out;
  if (!passive(v)) return out;
  each(v, "MV", +1, [&](int by, const Link&) {
    if (word(by) != "by" || by > p) return;
    each(by, "J", +1, [&](int doer, const Link&) {
      for (int m : nouns(doer))
        if (m < p) out.push_back(m);
    });
  });
  return out;
}

int SceneRules::passive_over(int h, const std::vector<int>& agents) const {
  if (agents.empty() || !std::all_of(agents.begin(), agents.end(), [&](int a) { return is_animate_noun(word(a)); }))
    return -1;
  int participle = -1;
  each(h, "J", -1, [&](int p, const Link&) {
    each(p, "MV", -1, [&](int v, const Link&) {
      if (passive(v)) participle = v;
    });
  });
  return participle;
}

int SceneRules::idiom_preposition(int t) const {
  if (!noun(t) || relational_noun(word(t))) return -1;
  // the idiom link first: preposition_heads() is the costlier test
  const int preposition = idiom_start(t, Pos::ADP);
  return preposition < 0 || preposition_heads(t).empty() ? -1 : preposition;
}

int SceneRules::looking_verb_for(int at) const {
  if (word(at) != "at") return -1;
  static const std::unordered_set<std::string> looking = {
      "look",  "looks",  "looking",  "looked", "stare",   "stares",   "staring", "stared", "gaze",
      "gazes", "gazing", "gazed",    "glance", "glances", "glancing", "peer",    "peers",  "peering",
      "point", "points", "pointing", "smile",  "smiles",  "smiling",  "wave",    "waves",  "waving"};
  for (int v = at - 1; v >= 0; --v) {
    if (!verbal(v)) continue;
    if (!looking.count(word(v))) return -1;
    for (int t = v + 1; t < at; ++t)
      if (word(t) == "at" && !phrase_objects(t).empty()) return -1;  // "looking at a menu at a table"
    const auto heads = preposition_heads(at);
    return std::find(heads.begin(), heads.end(), v) == heads.end() ? v : -1;
  }
  return -1;
}

int SceneRules::progressive(int v) const {
  if (!be(v)) return v;
  int participle = v;
  each(v, "P", +1, [&](int p, const Link& l) {
    if (!l.sub.empty() && l.sub[0] == 'g') participle = p;
  });
  return participle;
}

bool SceneRules::has_object(int v) const {
  bool found = false;
  each(v, "O", +1, [&](int o, const Link&) { found |= !complement(v, o); });
  return found;
}

bool SceneRules::complement(int v, int c) const {
  if (v >= c || pos_[v] != Pos::VERB || be(v) || pos_[c] != Pos::VERB || !ends_with(word(c), "ing")) return false;
  bool linked = false;
  each(v, "O", +1, [&](int o, const Link&) { linked |= o == c; });
  return linked;
}

bool SceneRules::particle_word(int t) const {
  return pos_[t] == Pos::ADP || pos_[t] == Pos::ADV || pos_[t] == Pos::PART;
}

std::vector<int> SceneRules::preposition_heads(int p) const {
  std::vector<int> heads;
  for (int k : at_[p]) {
    const Link& l = lk_.links[k];
    if (l.right != p || !(l.base == "M" || l.base == "MV" || l.base == "P")) continue;
    for (int h : coordinated(l.left)) {
      // "sitting down by a door": the particle's verb
      if (particle_word(h))
        for (int j : at_[h]) {
          const Link& m = lk_.links[j];
          if (m.right == h && verbal(m.left) && (m.base == "K" || (m.base == "P" && m.sub == "a"))) h = m.left;
          // "throws a ball out onto a field": a particle Link Grammar hangs
          // on the noun (Ma) passes the phrase to the noun
          if (m.right == h && noun(m.left) && m.base == "M" && m.sub == "a") h = m.left;
        }
      // "while in a restaurant a man is playing": an opening conjunction
      // (CO) passes the phrase to the subject it opens on
      if (pos_[h] == Pos::SCONJ)
        each(h, "CO", +1, [&](int s, const Link&) {
          if (noun(s)) h = s;
        });
      heads.push_back(h);
    }
  }
  // "a man stands in front of a woman who is sitting behind a table": a
  // phrase right after an intransitive -ing verb is that verb's, wherever
  // Link Grammar hangs it
  const int before = p - 1;
  if (before >= 0 && pos_[before] == Pos::VERB && ends_with(word(before), "ing") && !has_object(before) &&
      std::find(heads.begin(), heads.end(), before) == heads.end() && !heads.empty())
    heads = {before};
  // "sitting down thinking about": the complement, not the verb it completes
  heads.erase(std::remove_if(heads.begin(), heads.end(),
                             [&](int v) {
                               return std::any_of(heads.begin(), heads.end(), [&](int c) { return complement(v, c); });
                             }),
              heads.end());
  return heads;
}

std::vector<int> SceneRules::through_relational_noun(int t, std::vector<int>& pred) const {
  if (!relational_noun(word(t)) || pred.empty()) return {};
  int of = -1;
  for (int k : at_[t]) {
    const Link& l = lk_.links[k];
    if (l.left == t && word(l.right) == "of" && l.base == "M") of = l.right;
  }
  if (of < 0) return {};
  std::vector<int> targets;
  each(of, "J", +1, [&](int o, const Link&) {
    for (int m : nouns(o)) targets.push_back(m);
  });
  if (!targets.empty())
    for (int k = pred.back() + 1; k <= of; ++k) pred.push_back(k);
  return targets;
}

bool SceneRules::of_pronoun(int t) const {
  if (!relational_noun(word(t)) || t + 1 >= n_ || word(t + 1) != "of") return false;
  bool pronoun = false;
  each(t + 1, "J", +1, [&](int o, const Link&) { pronoun |= pos_[o] == Pos::PRON; });
  return pronoun;
}

void SceneRules::add(int s, std::vector<int> pred, int o) {
  if (s == o || s < 0 || o < 0 || time_noun(word(o))) return;
  if (auto targets = through_relational_noun(o, pred); !targets.empty()) {
    for (int m : targets) add(s, pred, m);
    return;
  }
  if (of_pronoun(o)) return;
  std::string p;
  for (int t : pred) {
    predicate_token_.insert(t);
    p += (p.empty() ? "" : " ") + word(t);
  }
  if (p == "of") return;  // "a bowl of fruit": one thing, not a relation
  for (const auto& r : relations_)
    if (r.subject_token == s && r.object_token == o && r.predicate == p) return;
  SceneRelation r;
  r.subject = word(s);
  r.predicate = p;
  r.object = word(o);
  r.subject_token = s;
  r.object_token = o;
  r.predicate_tokens = pred;
  relations_.push_back(std::move(r));
}

// (subject, verb, object) from S/M/P + O links.
void SceneRules::relations_from_objects() {
  for (int v = 0; v < n_; ++v) {
    // Link Grammar's verb reading wins over the word list ("people near a river")
    const bool verb_reading = !lk_.subscript[v].empty() && lk_.subscript[v][0] == 'v';
    if (pos_[v] != Pos::VERB && pos_[v] != Pos::CCONJ && !verb_reading) continue;
    each(v, "O", +1, [&](int obj, const Link&) {
      // "stands and holds a cup": the object belongs to the last verb
      const int verb = progressive(coordinated(v).back());
      if ((pos_[verb] != Pos::VERB && verb != v) || be(verb)) return;
      for (int s : subjects(v))
        for (int o : nouns(obj)) add(s, phrase(verb), o);
    });
  }
}

// Prepositions with an object (J): attached to a noun (M), a verb (MV) or a
// copula (Pp). A noun attachment wins when Link Grammar gives both, unless
// the preposition follows an intransitive verb directly ("people in a temple
// praying over an urn").
void SceneRules::relations_from_prepositions() {
  for (int p = 0; p < n_; ++p) {
    std::vector<int> objects = phrase_objects(p);
    std::vector<int> pred = phrase(p);
    if (const int preposition = objects.empty() ? idiom_preposition(p) : -1; preposition >= 0) {
      objects = {p};
      pred = {preposition};
    }
    if (objects.empty()) continue;
    if (const int v = looking_verb_for(p); v >= 0) {
      std::vector<int> full = phrase(v);
      // "looks down at": a particle right after the verb joins it
      if (v + 1 < p && particle_word(v + 1) && phrase_objects(v + 1).empty()) full.push_back(v + 1);
      full.insert(full.end(), pred.begin(), pred.end());
      for (int s : subjects(v))
        for (int o : objects) add(s, full, o);
      continue;
    }
    std::vector<int> noun_heads, verbs;
    for (int h : preposition_heads(p)) {
      if (noun(h))
        noun_heads.push_back(of_head(read_through(h)));
      else if (verbal(h) || verb_idiom_head(h))
        verbs.push_back(h);
      // "people are engaged in a game": the participle joins the predicate
      for (int s : participle_adjective_subjects(h)) {
        std::vector<int> full = {h};
        full.insert(full.end(), pred.begin(), pred.end());
        for (int o : objects) add(s, full, o);
      }
    }
    const bool verb_first = std::any_of(verbs.begin(), verbs.end(), [&](int v) {
      return pos_[v] == Pos::VERB && v + 1 == pred.front() && !has_object(v) && !be(v);
    });
    if (verb_first) noun_heads.clear();
    const bool by = word(p) == "by" && pred.size() == 1;
    for (int h : noun_heads) {
      // "a horse being ridden by a man": the agent does what the participle says
      if (const int participle = by ? passive_participle(h) : -1; participle >= 0) {
        for (int o : objects) add(o, phrase(participle), h);
        continue;
      }
      if (const int participle = by ? passive_over(h, objects) : -1; participle >= 0) {
        for (int o : objects)
          for (int s : subjects(participle)) add(o, phrase(participle), s);
        continue;
      }
      // "a giraffe standing next to a tree", "a chair covered with a
      // blanket": a phrase right after the noun's intransitive or passive
      // participle belongs to the participle
      int participle = -1;
      each(h, "M", +1, [&](int v, const Link& l) {
        if (!l.sub.empty() && (l.sub[0] == 'g' || l.sub[0] == 'v') && v + 1 == pred.front() && !has_object(v))
          participle = v;
      });
      std::vector<int> full = participle >= 0 ? phrase(participle) : std::vector<int>();
      full.insert(full.end(), pred.begin(), pred.end());
      // "people in a temple praying over an urn": the people pray
      int subject = participle >= 0 ? semantic_subject(h, participle) : h;
      // "a pizza with several toppings served on a tray": a passive
      // participle on the object of "with" is said of the noun "with" is on
      if (participle >= 0 && passive(participle))
        each(h, "J", -1, [&](int with, const Link&) {
          if (word(with) == "with")
            each(with, "M", -1, [&](int x, const Link&) {
              if (noun(x)) subject = x;
            });
        });
      for (int doer : nouns(subject))
        for (int o : objects) add(doer, full, o);
    }
    if (!noun_heads.empty()) continue;
    // "are sitting on": the main verb, not its auxiliary
    if (std::any_of(verbs.begin(), verbs.end(), [&](int v) { return !be(v); }))
      verbs.erase(std::remove_if(verbs.begin(), verbs.end(), [&](int v) { return be(v); }), verbs.end());
    for (int v : verbs) {
      // "a kite flown by a boy" -> (boy, flown, kite); "is being held by"
      const int participle = !by ? -1 : passive(v) ? v : be(v) ? passive_participle(v) : -1;
      if (const auto doers = doers_by_before(v, p); !doers.empty()) {
        for (int s : doers)
          for (int o : objects) add(s, pred, o);
        continue;
      }
      for (int s : subjects(v))
        for (int o : objects) {
          if (participle >= 0) {
            add(o, phrase(participle), s);
          } else if (be(v) || pos_[v] != Pos::VERB || has_object(v)) {
            add(s, pred, o);
          } else {
            std::vector<int> vp = phrase(v);
            vp.insert(vp.end(), pred.begin(), pred.end());
            add(s, vp, o);
          }
        }
    }
  }
}

std::vector<int> SceneRules::participle_adjective_subjects(int a) const {
  std::vector<int> out;
  if (pos_[a] != Pos::ADJ || !ends_with(word(a), "ed")) return out;
  bool takes_phrase = false;
  each(a, "MV", +1, [&](int p, const Link&) { takes_phrase |= pos_[p] == Pos::ADP; });
  if (!takes_phrase) return out;
  each(a, "P", -1, [&](int v, const Link& l) {
    if (l.sub.empty() || l.sub[0] != 'a' || !be(v)) return;
    for (int s : subjects(v)) out.push_back(s);
  });
  return out;
}

std::vector<int> SceneRules::phrase_objects(int p) const {
  std::vector<int> objects;
  each(p, "J", +1, [&](int t, const Link&) {
    for (int m : nouns(t)) objects.push_back(m);
  });
  // "a desk with a monitor a keyboard and a laptop": the list without a
  // comma Link Grammar hangs on the preposition as an object (O)
  if (pos_[p] == Pos::ADP)
    each(p, "O", +1, [&](int t, const Link&) {
      for (int m : nouns(t)) objects.push_back(m);
    });
  if (objects.empty()) return objects;
  std::vector<int> people;  // the person or animal nouns the phrase is on
  each(p, "M", -1, [&](int h, const Link&) {
    if (noun(h) && is_animate_noun(word(h))) people.push_back(h);
  });
  if (people.empty()) return objects;
  auto animate = [&](int t) { return is_animate_noun(word(t)); };
  // "two men in white shirts and another person": after a thing, a person
  // in the list is another subject, not worn
  if (!animate(objects.front()))
    objects.erase(std::remove_if(objects.begin() + 1, objects.end(), animate), objects.end());
  // "man in an orange jersey and white shorts": Link Grammar coordinates
  // the man with the shorts; the shorts continue the phrase's object
  const int last = *std::max_element(objects.begin(), objects.end());
  for (int h : people)
    each(h, "SJ", +1, [&](int c, const Link&) {
      if (pos_[c] != Pos::CCONJ || c < last) return;
      for (int m : nouns(c))
        if (m > c && !animate(m)) objects.push_back(m);
    });
  return objects;
}

bool SceneRules::plural(int t) const {
  // after "the" Link Grammar may leave these unmarked
  static const std::unordered_set<std::string> irregular = {"people", "men", "women", "children", "teeth", "feet"};
  if (irregular.count(word(t))) return true;
  if (!lk_.subscript[t].empty() && lk_.subscript[t][0] == 'p') return true;
  for (int k : at_[t]) {
    const Link& l = lk_.links[k];
    if (l.sub.empty()) continue;
    if ((l.base == "S" || l.base == "O" || l.base == "J" || l.base == "SI") && l.sub[0] == 'p') return true;
    if (l.base == "D" && l.right == t && l.sub.rfind("mc", 0) == 0) return true;
  }
  return false;
}

bool SceneRules::heads_object(int t) const {
  if (!noun(t) || predicate_token_.count(t)) return false;
  if (read_through(t) != t) return false;  // "lots" in "lots of luggage"
  // "tennis" in "tennis court" (the compound's head is the last noun) and
  // "group" in "a group of people" (a determiner to Link Grammar)
  bool modifier = false;
  each(t, "AN", +1, [&](int, const Link&) { modifier = true; });
  each(t, "A", +1, [&](int h, const Link&) { modifier |= noun(h); });  // guessed as an adjective
  each(t, "D", +1, [&](int h, const Link&) { modifier |= noun(h) && container(h) != t; });
  each(t, "AJ", 0, [&](int, const Link&) { modifier = true; });  // "white" in "red and white shirts"
  return !modifier;
}

std::vector<int> SceneRules::attributes(int t) const {
  std::vector<int> out;
  // before the noun, colour words read as nouns and participles ("a
  // vandalized wall", "a smiling girl") are adjectives too
  auto add_adjectives = [&](int a) {
    for (int m : coordinated(a)) {
      const bool participle = pos_[m] == Pos::VERB && (ends_with(word(m), "ed") || ends_with(word(m), "ing"));
      if (pos_[m] == Pos::ADJ || (m < t && (is_colour_word(word(m)) || participle))) out.push_back(m);
    }
  };
  each(t, "A", -1, [&](int a, const Link&) { add_adjectives(a); });
  // "a white piece of paper", "colored pieces of fabric": the partitive's
  // adjectives describe the real object
  // ("a white piece of paper and a pair of scissors": the first member)
  for (int p = 0; p < t; ++p)
    if (is_partitive_noun(word(p)) && !is_quantity_noun(word(p)) && coordinated(read_through(p)).front() == t)
      each(p, "A", -1, [&](int a, const Link&) { add_adjectives(a); });
  // "a red double decker bus", "a white tent", "a giant cup" read as a noun compound
  std::vector<int> modifiers = {t};
  for (size_t i = 0; i < modifiers.size() && i < 8; ++i)
    each(modifiers[i], "AN", -1, [&](int m, const Link&) {
      modifiers.push_back(m);
      if (is_colour_word(word(m))) add_adjectives(m);
      if (is_adjective_noun(word(m))) out.push_back(m);
      each(m, "A", -1, [&](int a, const Link&) { add_adjectives(a); });
    });
  // "his next subject" (L on the determiner), "the same species", "other
  // people" (the word is the determiner)
  each(t, "D", -1, [&](int d, const Link&) {
    if (is_determiner_adjective(word(d))) out.push_back(d);
    each(d, "L", +1, [&](int a, const Link&) {
      if (is_determiner_adjective(word(a))) out.push_back(a);
    });
  });
  // "a bright blue sky": an adjective on an adjective
  for (size_t i = 0; i < out.size() && i < 8; ++i)
    each(out[i], "A", -1, [&](int a, const Link&) {
      if (pos_[a] == Pos::ADJ && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    });
  // "the dog is brown": predicative adjectives (Pa) describe the subject
  for (int v = 0; v < n_; ++v)
    each(v, "P", +1, [&](int a, const Link& l) {
      if (l.sub.empty() || l.sub[0] != 'a' || pos_[a] == Pos::VERB || !participle_adjective_subjects(a).empty()) return;
      auto s = subjects(v);
      if (std::find(s.begin(), s.end(), t) != s.end()) add_adjectives(a);
    });
  // "dancing barefoot", "a guy performing a song shirtless": a state of the
  // subject said through the verb
  static const std::unordered_set<std::string> states = {"barefoot", "shirtless", "topless", "naked", "alone"};
  for (int a = 0; a < n_; ++a) {
    if (!states.count(word(a))) continue;
    for (int k : at_[a]) {
      const Link& l = lk_.links[k];
      const int v = l.left == a ? l.right : l.left;
      if (!verbal(v)) continue;
      auto s = subjects(v);
      if (std::find(s.begin(), s.end(), t) != s.end()) out.push_back(a);
    }
  }
  sort_unique(out);
  return out;
}

int SceneRules::count(int t) const {
  int count = 0;
  each(t, "D", -1, [&](int d, const Link&) {
    if (pos_[d] == Pos::NUM) count = number_value(word(d));
  });
  // "a couple of boys", "a pair of boys"
  for (int p = 0; p < t && count == 0; ++p)
    if (is_partitive_noun(word(p)) && number_value(word(p)) > 0 && read_through(p) == t) count = number_value(word(p));
  return count > 0 ? count : plural(t) ? 2 : 1;
}

void SceneRules::objects() {
  for (int t = 0; t < n_; ++t) {
    if (!heads_object(t)) continue;
    SceneObject o;
    o.token = t;
    o.word = word(t);
    o.attribute_tokens = attributes(t);
    for (int a : o.attribute_tokens) o.attributes.push_back(word(a));
    o.count = count(t);
    objects_.push_back(std::move(o));
  }
}

void SceneRules::build(CaptionGraph& g) {
  for (const auto& l : lk_.links) g.edges.emplace_back(l.left, l.right);
  relations_from_objects();
  relations_from_prepositions();
  objects();
  g.relations = std::move(relations_);
  g.objects = std::move(objects_);
}

}  // namespace sm
