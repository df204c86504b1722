// Link Grammar linkage -> tokens, universal POS tags, edges and a scene graph.
// The conventions (which link gives which tag, edge and triplet) are in
// docs/parsing.md.
#include "scenematch/text/caption_parser.h"

extern "C" {
#include <link-grammar/dict-api.h>
#include <link-grammar/link-includes.h>
}

#include <algorithm>
#include <cctype>
#include <clocale>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "scenematch/core/error.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/text/caption_input.h"

namespace sm {
namespace {

// Noun phrases ("a dog chasing a ball") are most captions; Link Grammar parses
// them far better as the object of a clause, so fragments are parsed again
// behind this prefix and the prefix's words are dropped.
const std::string kFragmentPrefix = "I see ";

const std::unordered_map<std::string, Pos>& closed_class() {
  static const std::unordered_map<std::string, Pos> words = [] {
    std::unordered_map<std::string, Pos> m;
    auto add = [&](Pos p, std::initializer_list<const char*> ws) {
      for (const char* w : ws) m[w] = p;
    };
    add(Pos::DET, {"a",     "an",      "the", "this", "that",  "these",  "those",   "some",    "any",  "each",
                   "every", "another", "no",  "all",  "both",  "either", "neither", "several", "many", "few",
                   "much",  "its",     "his", "her",  "their", "our",    "my",      "your"});
    add(Pos::PRON, {"i",        "you",  "he",    "she",     "it",      "we",     "they",       "me",      "him",
                    "us",       "them", "who",   "whom",    "whose",   "which",  "what",       "someone", "something",
                    "somebody", "one",  "there", "himself", "herself", "itself", "themselves", "anyone",  "everyone",
                    "nobody",   "mine", "yours", "hers",    "ours",    "theirs"});
    add(Pos::ADP,
        {"in",      "on",      "at",     "of",      "with",      "by",         "from",    "to",      "into",
         "onto",    "over",    "under",  "near",    "behind",    "beside",     "besides", "between", "among",
         "through", "across",  "along",  "around",  "past",      "above",      "below",   "beneath", "underneath",
         "inside",  "outside", "toward", "towards", "against",   "for",        "about",   "up",      "down",
         "off",     "out",     "atop",   "upon",    "via",       "during",     "without", "within",  "beyond",
         "after",   "before",  "like",   "amid",    "alongside", "throughout", "next"});
    add(Pos::CCONJ, {"and", "or", "but", "nor", "&", "yet"});
    add(Pos::SCONJ, {"while", "as", "because", "if", "although", "though", "whilst", "since", "until", "whereas"});
    add(Pos::AUX, {"is",    "are",  "was",   "were",  "be",     "been", "being", "am",   "'re", "'m", "can",
                   "could", "will", "would", "shall", "should", "may",  "might", "must", "'ll", "'d"});
    add(Pos::PART, {"not", "n't", "'s"});
    add(Pos::ADV, {"very", "together", "away", "back", "here", "also", "just", "outdoors", "indoors", "nearby", "too",
                   "almost", "still", "really", "quite", "so", "then", "now"});
    add(Pos::INTJ, {"yes", "hello", "oh", "wow"});
    return m;
  }();
  return words;
}

const std::unordered_set<std::string>& be_forms() {
  static const std::unordered_set<std::string> s = {"is",   "are",   "was", "were", "be",
                                                    "been", "being", "am",  "'re",  "'m"};
  return s;
}

// Nouns that, followed by "of", are part of a spatial preposition
// ("on top of", "in front of", "in the middle of").
const std::unordered_set<std::string>& relational_nouns() {
  static const std::unordered_set<std::string> s = {"top",    "front",  "middle", "side", "back", "edge",  "bottom",
                                                    "center", "centre", "corner", "end",  "rear", "inside"};
  return s;
}

// "two" -> 2, "12" -> 12, else 0.
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

bool is_punct(const std::string& w) {
  return std::none_of(w.begin(), w.end(), [](unsigned char c) { return std::isalnum(c) || c >= 0x80; });
}

bool ends_with(const std::string& w, const char* suffix) {
  const size_t n = std::char_traits<char>::length(suffix);
  return w.size() > n + 1 && w.compare(w.size() - n, n, suffix) == 0;
}

// Coarse word classes the dictionary offers for a word (for tagging words
// without a linkage): 'n', 'v', 'a', 'e' (adverb).
std::set<char> dictionary_classes(Dictionary dict, const std::string& word) {
  std::set<char> classes;
  Dict_node* list = dictionary_lookup_list(dict, word.c_str());
  for (Dict_node* d = list; d; d = d->right) {
    // entries read "dog\3n": the dictionary's subscript mark, '.' in output
    const char* dot = std::strrchr(d->string, '\3');
    if (!dot) dot = std::strrchr(d->string, '.');
    if (!dot) continue;
    char c = dot[1];
    if (c == 's' || c == 'p' || c == 'n') classes.insert('n');
    if (c == 'v' || c == 'w' || c == 'q' || c == 'g') classes.insert('v');
    if (c == 'a') classes.insert('a');
    if (c == 'e') classes.insert('e');
  }
  if (list) free_lookup_list(dict, list);
  return classes;
}

// Tag from the word alone and its left neighbour's tag.
Pos tag_without_linkage(Dictionary dict, const std::string& w, Pos previous, bool has_previous) {
  if (is_punct(w)) return Pos::PUNCT;
  if (number_value(w) > 0 && w != "one" && w != "pair" && w != "couple") return Pos::NUM;
  if (auto it = closed_class().find(w); it != closed_class().end()) return it->second;
  const bool after_modifier =
      has_previous && (previous == Pos::DET || previous == Pos::ADJ || previous == Pos::NUM || previous == Pos::ADP);
  std::set<char> classes = dictionary_classes(dict, w);
  if (classes.size() == 1) {
    switch (*classes.begin()) {
      case 'n':
        return Pos::NOUN;
      case 'v':
        return Pos::VERB;
      case 'a':
        return Pos::ADJ;
      default:
        return Pos::ADV;
    }
  }
  if ((ends_with(w, "ing") || ends_with(w, "ed")) && (classes.empty() || classes.count('v'))) return Pos::VERB;
  if (classes.count('a') && !ends_with(w, "s")) return Pos::ADJ;
  if (classes.count('n') && (after_modifier || !classes.count('v'))) return Pos::NOUN;
  if (classes.count('v')) return Pos::VERB;
  if (ends_with(w, "ly")) return Pos::ADV;
  if (ends_with(w, "ous") || ends_with(w, "ful") || ends_with(w, "ive") || ends_with(w, "able")) return Pos::ADJ;
  return Pos::NOUN;
}

// Tag from the Link Grammar subscript ("dog.n" -> n), or X when it says nothing.
Pos tag_from_subscript(const std::string& word, const std::string& sub) {
  if (sub.empty()) return Pos::X;
  if (is_punct(word)) return Pos::PUNCT;  // ",.j" in a list is still punctuation
  const char c = sub[0];
  if (word == "'s") return c == 'v' ? Pos::AUX : Pos::PART;
  if (closed_class().count(word)) return Pos::X;  // the word lists know these better
  if (sub == "g" || c == 'v' || c == 'w' || c == 'q' || c == 't') return Pos::VERB;
  if (c == 'n' || c == 's' || c == 'p' || sub == "id") return Pos::NOUN;
  if (c == 'a') return Pos::ADJ;
  if (c == 'e') return Pos::ADV;
  if (c == 'b' || c == 'l' || c == 'f' || c == 'm') return Pos::PROPN;
  if (c == 'r') return Pos::ADP;
  if (c == 'j') return Pos::CCONJ;
  return Pos::X;
}

struct Link {
  std::string base, sub;  // "MVp" -> "MV", "p"; idiom links keep their leading '_'
  int left, right;        // token indices, left < right
};

// A linkage projected onto the caption's tokens.
struct TokenLinkage {
  std::vector<Link> links;
  std::vector<std::string> subscript;  // per token, "" when none
  std::vector<bool> linked;            // token covered by a linked word
  bool finite_clause = false;          // the wall links to a finite verb (WV)
  int nulls = 0;                       // null-linked words of the caption
  double cost = 0;                     // Link Grammar's disjunct cost (lower reads better)
  bool has_subject = false;            // a subject-verb link inside the caption
  bool prefix_takes_clause = false;    // "I see [a man is riding]" rather than "I see [a man riding]"
};

std::pair<std::string, std::string> split_label(const std::string& label) {
  size_t i = 0;
  if (!label.empty() && label[0] == '_') i = 1;
  while (i < label.size() && std::isupper(static_cast<unsigned char>(label[i]))) ++i;
  return {label.substr(0, i), label.substr(i)};
}

// "frisbee[?].n" -> ("frisbee", "n"); "[a]" -> ("a", ""); "." -> (".", "")
std::pair<std::string, std::string> split_word(std::string w) {
  if (w.size() > 2 && w.front() == '[' && w.back() == ']') w = w.substr(1, w.size() - 2);
  for (size_t b; (b = w.find('[')) != std::string::npos && b > 0;) {
    size_t e = w.find(']', b);
    if (e == std::string::npos) break;
    w.erase(b, e - b + 1);
  }
  size_t dot = w.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == w.size()) return {w, ""};
  std::string sub = w.substr(dot + 1);
  if (!std::isalpha(static_cast<unsigned char>(sub[0]))) return {w, ""};
  return {w.substr(0, dot), sub};
}

// Byte spans of the tokens in the lowercased caption (tokens are substrings).
std::vector<std::pair<int, int>> token_spans(const std::string& lowered, const std::vector<std::string>& tokens) {
  std::vector<std::pair<int, int>> spans;
  size_t at = 0;
  for (const auto& t : tokens) {
    size_t p = lowered.find(t, at);
    if (p == std::string::npos) p = at;  // a quote tokenize() rewrote (" -> `` or '')
    spans.emplace_back(static_cast<int>(p), static_cast<int>(p + t.size()));
    at = p + t.size();
  }
  return spans;
}

// The token a word's byte span [start, end) overlaps most; -1 when none.
int token_at(const std::vector<std::pair<int, int>>& spans, int start, int end) {
  int best = -1, best_overlap = 0;
  for (int t = 0; t < static_cast<int>(spans.size()); ++t) {
    int overlap = std::min(end, spans[t].second) - std::max(start, spans[t].first);
    if (overlap > best_overlap) best = t, best_overlap = overlap;
  }
  return best;
}

// Builds the scene graph and edges of one caption from its token links.
class GraphBuilder {
 public:
  GraphBuilder(CaptionGraph& g, const TokenLinkage& lk) : g_(g), lk_(lk), n_(static_cast<int>(g.tokens.size())) {
    at_.resize(n_);
    for (int k = 0; k < static_cast<int>(lk.links.size()); ++k) {
      at_[lk.links[k].left].push_back(k);
      at_[lk.links[k].right].push_back(k);
    }
  }

  void build() {
    for (const auto& l : lk_.links) g_.edges.emplace_back(l.left, l.right);
    relations_from_objects();
    relations_from_prepositions();
    objects();
  }

 private:
  const std::string& word(int t) const { return g_.tokens[t]; }
  bool noun(int t) const { return g_.pos[t] == Pos::NOUN || g_.pos[t] == Pos::PROPN; }
  bool verbal(int t) const { return g_.pos[t] == Pos::VERB || g_.pos[t] == Pos::AUX; }
  bool be(int t) const { return be_forms().count(word(t)) > 0; }

  // Calls f(other end, link) for each link at t with this base, where t is
  // the left end (dir > 0), the right end (dir < 0) or either (dir == 0).
  void each(int t, const std::string& base, int dir, const std::function<void(int, const Link&)>& f) const {
    for (int k : at_[t]) {
      const Link& l = lk_.links[k];
      if (l.base != base) continue;
      if (l.left == t && dir >= 0) f(l.right, l);
      if (l.right == t && dir <= 0) f(l.left, l);
    }
  }

  // Members of a coordination ("a man and a woman" -> man, woman), else {t}.
  std::vector<int> expand(int t, int depth = 0) const {
    std::vector<int> members;
    if (g_.pos[t] == Pos::CCONJ && depth < 4)
      for (int k : at_[t]) {
        const Link& l = lk_.links[k];
        if (l.base.size() == 2 && l.base[1] == 'J') {
          auto sub = expand(l.left == t ? l.right : l.left, depth + 1);
          members.insert(members.end(), sub.begin(), sub.end());
        }
      }
    if (members.empty()) members.push_back(t);
    return members;
  }

  std::vector<int> nouns(int t) const {
    std::vector<int> out;
    for (int m : expand(t))
      if (noun(m)) out.push_back(m);
    return out;
  }

  // The nouns a verb (or auxiliary, participle, infinitive) is said of.
  std::vector<int> subjects(int v, int depth = 0) const {
    std::vector<int> out;
    if (depth > 6) return out;
    auto add_nouns = [&](int t, const Link&) {
      for (int m : nouns(t)) out.push_back(m);
    };
    each(v, "S", -1, add_nouns);
    each(v, "SI", +1, add_nouns);
    for (int k : at_[v]) {
      const Link& l = lk_.links[k];
      if (l.right != v) continue;
      // "a dog chasing", "a plate topped with"
      if (l.base == "M" && !l.sub.empty() && (l.sub[0] == 'g' || l.sub[0] == 'v')) add_nouns(l.left, l);
      // auxiliaries, infinitives and the gerund Link Grammar gives "are sitting"
      const bool chain = l.base == "P" || l.base == "PP" || l.base == "I" || l.base == "TO" ||
                         (l.base == "O" && be(l.left) && g_.pos[v] == Pos::VERB);
      if (chain) {
        auto s = subjects(l.left, depth + 1);
        out.insert(out.end(), s.begin(), s.end());
      }
    }
    // coordinated verbs share the coordination's subject
    for (int k : at_[v]) {
      const Link& l = lk_.links[k];
      if (l.base == "VJ") {
        int c = l.left == v ? l.right : l.left;
        if (g_.pos[c] == Pos::CCONJ) {
          auto s = subjects(c, depth + 1);
          out.insert(out.end(), s.begin(), s.end());
        }
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // Tokens of an idiom ("in front of", "next to", "picking up") joined by
  // Link Grammar's idiom links, plus particles (K) of a verb.
  std::vector<int> phrase(int t) const {
    std::vector<int> out = {t};
    for (size_t i = 0; i < out.size(); ++i)
      for (int k : at_[out[i]]) {
        const Link& l = lk_.links[k];
        if (l.base.empty() || (l.base[0] != '_' && !(l.base == "K" && l.left == out[i]))) continue;
        for (int m : {l.left, l.right})
          if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
      }
    // "next to" / "close to" when not parsed as an idiom
    if (word(t) == "to" && t > 0 && (word(t - 1) == "next" || word(t - 1) == "close") &&
        std::find(out.begin(), out.end(), t - 1) == out.end())
      out.push_back(t - 1);
    std::sort(out.begin(), out.end());
    return out;
  }

  bool has_object(int v) const {
    bool found = false;
    each(v, "O", +1, [&](int, const Link&) { found = true; });
    return found;
  }

  void add(int s, std::vector<int> pred, int o) {
    if (s == o || s < 0 || o < 0) return;
    // "on top of X", "in the middle of X": the relational noun joins the predicate
    if (relational_nouns().count(word(o))) {
      int of = -1;
      for (int k : at_[o]) {
        const Link& l = lk_.links[k];
        if (l.left == o && word(l.right) == "of" && l.base == "M") of = l.right;
      }
      if (of >= 0) {
        int target = -1;
        each(of, "J", +1, [&](int t, const Link&) { target = t; });
        if (target >= 0) {
          for (int t = pred.back() + 1; t <= of; ++t) pred.push_back(t);
          for (int m : nouns(target)) add(s, pred, m);
          return;
        }
      }
    }
    std::string p;
    for (int t : pred) {
      predicate_token_.insert(t);
      p += (p.empty() ? "" : " ") + word(t);
    }
    if (p == "of") return;  // "a bowl of fruit", "a group of people": one thing, not a relation
    for (const auto& r : g_.relations)
      if (r.subject_token == s && r.object_token == o && r.predicate == p) return;
    SceneRelation r;
    r.subject = word(s);
    r.predicate = p;
    r.object = word(o);
    r.subject_token = s;
    r.object_token = o;
    r.predicate_tokens = pred;
    g_.relations.push_back(std::move(r));
  }

  // (subject, verb, object) from S/M/P + O links.
  void relations_from_objects() {
    for (int v = 0; v < n_; ++v) {
      // Link Grammar's verb reading wins over the word list ("people near a river")
      const bool verb_reading = !lk_.subscript[v].empty() && lk_.subscript[v][0] == 'v';
      if (g_.pos[v] != Pos::VERB && g_.pos[v] != Pos::CCONJ && !verb_reading) continue;
      each(v, "O", +1, [&](int obj, const Link&) {
        // "stands and holds a cup": the object belongs to the last verb
        std::vector<int> verbs = expand(v);
        const int verb = verbs.back();
        if ((g_.pos[verb] != Pos::VERB && verb != v) || be(verb)) return;
        for (int s : subjects(v))
          for (int o : nouns(obj)) add(s, phrase(verb), o);
      });
    }
  }

  // Prepositions with an object (J): attached to a noun (M), a verb (MV) or a
  // copula (Pp). A noun attachment wins when Link Grammar gives both.
  void relations_from_prepositions() {
    for (int p = 0; p < n_; ++p) {
      std::vector<int> objects;
      each(p, "J", +1, [&](int t, const Link&) {
        for (int m : nouns(t)) objects.push_back(m);
      });
      if (objects.empty()) continue;
      std::vector<int> pred = phrase(p);
      std::vector<int> noun_heads, verbs;
      for (int k : at_[p]) {
        const Link& l = lk_.links[k];
        if (l.right != p || !(l.base == "M" || l.base == "MV" || l.base == "P")) continue;
        for (int h : expand(l.left)) {
          if (noun(h))
            noun_heads.push_back(h);
          else if (verbal(h))
            verbs.push_back(h);
        }
      }
      for (int h : noun_heads) {
        // "a giraffe standing next to a tree": a phrase right after the noun's
        // intransitive participle belongs to the participle
        int participle = -1;
        each(h, "M", +1, [&](int v, const Link& l) {
          if (!l.sub.empty() && l.sub[0] == 'g' && v + 1 == pred.front() && !has_object(v)) participle = v;
        });
        std::vector<int> full = participle >= 0 ? phrase(participle) : std::vector<int>();
        full.insert(full.end(), pred.begin(), pred.end());
        for (int o : objects) add(h, full, o);
      }
      if (!noun_heads.empty()) continue;
      // "are sitting on": the main verb, not its auxiliary
      if (std::any_of(verbs.begin(), verbs.end(), [&](int v) { return !be(v); }))
        verbs.erase(std::remove_if(verbs.begin(), verbs.end(), [&](int v) { return be(v); }), verbs.end());
      for (int v : verbs) {
        const bool passive_by = word(p) == "by" && pred.size() == 1 && g_.pos[v] == Pos::VERB &&
                                (ends_with(word(v), "ed") || ends_with(word(v), "en") || ends_with(word(v), "wn"));
        for (int s : subjects(v))
          for (int o : objects) {
            if (passive_by) {
              add(o, phrase(v), s);  // "a kite flown by a boy" -> (boy, flown, kite)
            } else if (be(v) || g_.pos[v] != Pos::VERB || has_object(v)) {
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

  bool plural(int t) const {
    if (!lk_.subscript[t].empty() && lk_.subscript[t][0] == 'p') return true;
    for (int k : at_[t]) {
      const Link& l = lk_.links[k];
      if (l.sub.empty()) continue;
      if ((l.base == "S" || l.base == "O" || l.base == "J" || l.base == "SI") && l.sub[0] == 'p') return true;
      if (l.base == "D" && l.right == t && l.sub.rfind("mc", 0) == 0) return true;
    }
    return false;
  }

  void objects() {
    for (int t = 0; t < n_; ++t) {
      if (!noun(t) || predicate_token_.count(t)) continue;
      // "tennis" in "tennis court" (the compound's head is the last noun) and
      // "group" in "a group of people" (a determiner to Link Grammar)
      bool modifier = false;
      each(t, "AN", +1, [&](int, const Link&) { modifier = true; });
      each(t, "A", +1, [&](int h, const Link&) { modifier |= noun(h); });  // guessed as an adjective
      each(t, "D", +1, [&](int h, const Link&) { modifier |= noun(h); });
      if (modifier) continue;
      SceneObject o;
      o.token = t;
      o.word = word(t);
      auto add_attribute = [&](int a) {
        for (int m : expand(a))
          if (g_.pos[m] == Pos::ADJ &&
              std::find(o.attribute_tokens.begin(), o.attribute_tokens.end(), m) == o.attribute_tokens.end())
            o.attribute_tokens.push_back(m);
      };
      each(t, "A", -1, [&](int a, const Link&) { add_attribute(a); });
      // "a red double decker bus": adjectives Link Grammar put on a compound's modifiers
      std::vector<int> modifiers = {t};
      for (size_t i = 0; i < modifiers.size(); ++i)
        each(modifiers[i], "AN", -1, [&](int m, const Link&) {
          modifiers.push_back(m);
          each(m, "A", -1, [&](int a, const Link&) { add_attribute(a); });
        });
      int count = 0;
      each(t, "D", -1, [&](int d, const Link&) {
        if (g_.pos[d] == Pos::NUM) count = number_value(word(d));
      });
      o.count = count > 0 ? count : plural(t) ? 2 : 1;
      objects_.push_back(std::move(o));
    }
    // "the dog is brown": predicative adjectives (Pa) describe the subject
    for (int v = 0; v < n_; ++v)
      each(v, "P", +1, [&](int a, const Link& l) {
        if (l.sub.empty() || l.sub[0] != 'a') return;
        for (int s : subjects(v))
          for (auto& o : objects_)
            if (o.token == s)
              for (int m : expand(a))
                if (g_.pos[m] == Pos::ADJ) o.attribute_tokens.push_back(m);
      });
    for (auto& o : objects_) {
      std::sort(o.attribute_tokens.begin(), o.attribute_tokens.end());
      for (int a : o.attribute_tokens) o.attributes.push_back(word(a));
      g_.objects.push_back(std::move(o));
    }
  }

  CaptionGraph& g_;
  const TokenLinkage& lk_;
  int n_;
  std::vector<std::vector<int>> at_;
  std::set<int> predicate_token_;
  std::vector<SceneObject> objects_;
};

// Edges and a scene graph from tags alone, for captions without a linkage:
// noun chunks (DET/NUM/ADJ ... NOUN), their modifiers, and the verb and
// preposition words between two chunks as a relation.
void graph_from_tags(CaptionGraph& g) {
  const int n = static_cast<int>(g.tokens.size());
  struct Chunk {
    int first, head;
  };
  std::vector<Chunk> chunks;
  for (int t = 0; t < n;) {
    auto modifier = [&](int i) { return g.pos[i] == Pos::DET || g.pos[i] == Pos::NUM || g.pos[i] == Pos::ADJ; };
    auto nominal = [&](int i) { return g.pos[i] == Pos::NOUN || g.pos[i] == Pos::PROPN; };
    int e = t;
    while (e < n && modifier(e)) ++e;
    int head = -1;
    while (e < n && nominal(e)) head = e++;
    if (head < 0) {
      t = std::max(e, t + 1);
      continue;
    }
    chunks.push_back({t, head});
    SceneObject o;
    o.token = head;
    o.word = g.tokens[head];
    for (int i = t; i < head; ++i) {
      g.edges.emplace_back(i, head);
      if (g.pos[i] == Pos::ADJ) {
        o.attributes.push_back(g.tokens[i]);
        o.attribute_tokens.push_back(i);
      }
      if (g.pos[i] == Pos::NUM && number_value(g.tokens[i]) > 0) o.count = number_value(g.tokens[i]);
    }
    g.objects.push_back(std::move(o));
    t = e;
  }
  for (size_t c = 0; c + 1 < chunks.size(); ++c) {
    std::vector<int> pred;
    bool joinable = true;
    for (int t = chunks[c].head + 1; t < chunks[c + 1].first; ++t) {
      if (g.pos[t] == Pos::VERB || g.pos[t] == Pos::ADP)
        pred.push_back(t);
      else if (g.pos[t] != Pos::AUX && g.pos[t] != Pos::ADV)
        joinable = false;
    }
    if (!joinable || pred.empty()) continue;
    SceneRelation r;
    r.subject_token = chunks[c].head;
    r.object_token = chunks[c + 1].head;
    r.subject = g.tokens[r.subject_token];
    r.object = g.tokens[r.object_token];
    for (int t : pred) r.predicate += (r.predicate.empty() ? "" : " ") + g.tokens[t];
    r.predicate_tokens = pred;
    int previous = r.subject_token;
    for (int t : pred) g.edges.emplace_back(previous, t), previous = t;
    g.edges.emplace_back(previous, r.object_token);
    g.relations.push_back(std::move(r));
  }
}

void normalise_edges(CaptionGraph& g) {
  for (auto& [i, j] : g.edges)
    if (i > j) std::swap(i, j);
  g.edges.erase(std::remove_if(g.edges.begin(), g.edges.end(), [](auto e) { return e.first == e.second; }),
                g.edges.end());
  std::sort(g.edges.begin(), g.edges.end());
  g.edges.erase(std::unique(g.edges.begin(), g.edges.end()), g.edges.end());
}

// Common caption usages the dictionary lacks, replaced by a form it knows
// before parsing ("a cat laying on a bed"). Replacements are no longer than
// the word and padded with spaces, so byte offsets still match the tokens.
std::string with_dictionary_forms(std::string text, const std::vector<std::pair<int, int>>& spans) {
  static const std::unordered_map<std::string, std::string> forms = {{"laying", "lying"}, {"lays", "lies"}};
  for (auto [start, end] : spans) {
    auto it = forms.find(text.substr(start, end - start));
    if (it == forms.end()) continue;
    std::string replacement = it->second;
    replacement.resize(end - start, ' ');
    text.replace(start, end - start, replacement);
  }
  return text;
}

void ignore_messages(lg_errinfo*, void*) {}

}  // namespace

struct CaptionParser::Impl {
  Dictionary dict = nullptr;
  Parse_Options opts = nullptr;

  // One parse attempt of `text`; `offset` bytes of prefix precede the caption.
  // Returns false when no linkage was found within the allowed null count.
  bool parse(const std::string& text, int offset, int max_nulls, const std::vector<std::pair<int, int>>& spans,
             TokenLinkage& out) {
    Sentence s = sentence_create(text.c_str(), dict);
    if (!s) return false;
    bool ok = false;
    if (sentence_split(s, opts) == 0) {
      parse_options_set_min_null_count(opts, 0);
      parse_options_set_max_null_count(opts, 0);
      int found = sentence_parse(s, opts);
      if (found <= 0 && max_nulls > 0) {
        parse_options_set_min_null_count(opts, 1);
        parse_options_set_max_null_count(opts, max_nulls);
        found = sentence_parse(s, opts);
      }
      if (found > 0) {
        Linkage linkage = linkage_create(0, s, opts);
        if (linkage) {
          project(linkage, offset, spans, out);
          out.cost = linkage_disjunct_cost(linkage);
          linkage_delete(linkage);
          ok = true;
        }
      }
    }
    sentence_delete(s);
    return ok;
  }

  void project(Linkage linkage, int offset, const std::vector<std::pair<int, int>>& spans, TokenLinkage& out) {
    const int n = static_cast<int>(spans.size());
    out = TokenLinkage();
    out.subscript.assign(n, "");
    out.linked.assign(n, false);
    const int words = static_cast<int>(linkage_get_num_words(linkage));
    std::vector<int> token(words, -1);
    for (int w = 0; w < words; ++w) {
      const std::string text = linkage_get_word(linkage, w);
      const int start = static_cast<int>(linkage_get_word_char_start(linkage, w)) - offset;
      const int end = static_cast<int>(linkage_get_word_char_end(linkage, w)) - offset;
      if (text == "LEFT-WALL" || text == "RIGHT-WALL" || end <= 0) continue;
      token[w] = token_at(spans, start, end);
      if (token[w] < 0) continue;
      const bool null_word = text.size() > 2 && text.front() == '[' && text.back() == ']';
      if (null_word) {
        ++out.nulls;
        continue;
      }
      out.linked[token[w]] = true;
      // Guesses for words the dictionary lacks ("laptop[?].a") are left to the tagger.
      if (out.subscript[token[w]].empty() && text.find("[?]") == std::string::npos)
        out.subscript[token[w]] = split_word(text).second;
    }
    const int links = static_cast<int>(linkage_get_num_links(linkage));
    // "I see people standing ...": the prefix's object is the subject of the
    // participle the prefix links to (P), as if "people standing" (Mg).
    std::vector<int> prefix_objects, prefix_participles;
    for (int k = 0; k < links; ++k) {
      const int lw = static_cast<int>(linkage_get_link_lword(linkage, k));
      const int rw = static_cast<int>(linkage_get_link_rword(linkage, k));
      auto [base, sub] = split_label(linkage_get_link_label(linkage, k));
      if (base == "WV" && token[rw] >= 0) out.finite_clause = true;
      const bool from_prefix = offset > 0 && token[lw] < 0 && lw > 0 && token[rw] >= 0;
      if (from_prefix && base == "O") prefix_objects.push_back(token[rw]);
      if (from_prefix && base == "P") prefix_participles.push_back(token[rw]);
      if (from_prefix && (base == "C" || base == "CV")) out.prefix_takes_clause = true;
      if (token[lw] < 0 || token[rw] < 0 || token[lw] == token[rw]) continue;
      out.links.push_back({base, sub, std::min(token[lw], token[rw]), std::max(token[lw], token[rw])});
      out.has_subject |= base == "S";
    }
    for (int o : prefix_objects)
      for (int v : prefix_participles)
        if (o < v) out.links.push_back({"M", "g", o, v});
  }

  void tag(CaptionGraph& g, const TokenLinkage* lk) {
    const int n = static_cast<int>(g.tokens.size());
    g.pos.assign(n, Pos::X);
    for (int t = 0; t < n; ++t) {
      const std::string& w = g.tokens[t];
      Pos p = lk && lk->linked[t] ? tag_from_subscript(w, lk->subscript[t]) : Pos::X;
      if (p == Pos::X) p = tag_without_linkage(dict, w, t > 0 ? g.pos[t - 1] : Pos::X, t > 0);
      g.pos[t] = p;
    }
    if (!lk) return;
    // Words whose tag depends on their links.
    for (const auto& l : lk->links) {
      const std::string& lw = g.tokens[l.left];
      if (l.base == "I" && lw == "to") g.pos[l.left] = Pos::PART;  // "to catch"
      if (l.base == "PP" && (lw == "has" || lw == "have" || lw == "had")) g.pos[l.left] = Pos::AUX;
      if (l.base == "D" && (lw == "that" || lw == "one")) g.pos[l.left] = lw == "one" ? Pos::NUM : Pos::DET;
      if (l.base == "O" && be_forms().count(lw) && g.pos[l.right] == Pos::VERB) g.pos[l.left] = Pos::AUX;
    }
  }
};

CaptionParser::CaptionParser() : impl_(std::make_unique<Impl>()) {
  // Dictionary loading touches process-wide state (locale, message handler);
  // parsers are created from several threads at once by the parse cache.
  static std::mutex create_mutex;
  std::lock_guard<std::mutex> lock(create_mutex);
  lg_error_set_handler(ignore_messages, nullptr);
  if (!std::setlocale(LC_CTYPE, "C.UTF-8")) std::setlocale(LC_CTYPE, "");
  impl_->dict = dictionary_create_lang("en");
  if (!impl_->dict)
    fail(
        "Link Grammar: cannot load the English dictionary (install link-grammar-dictionaries-en; "
        "scripts/install-deps.sh does)");
  impl_->opts = parse_options_create();
  parse_options_set_verbosity(impl_->opts, 0);
  parse_options_set_spell_guess(impl_->opts, 0);
  parse_options_set_linkage_limit(impl_->opts, 200);  // enough that the cheapest is among them; 1000 cost 60% more time
  parse_options_set_max_parse_time(impl_->opts, 2);
  parse_options_set_islands_ok(impl_->opts, false);
  parse_options_set_repeatable_rand(impl_->opts, true);
}

CaptionParser::~CaptionParser() {
  if (impl_->opts) parse_options_delete(impl_->opts);
  if (impl_->dict) dictionary_delete(impl_->dict);
}

CaptionGraph CaptionParser::parse(const std::string& caption) {
  CaptionGraph g;
  const CaptionProblem problem = caption_problem(caption);
  if (problem == CaptionProblem::empty || problem == CaptionProblem::invalid_utf8) {
    g.quality = "empty";
    return g;
  }
  g.tokens = tokenize(caption);
  if (problem == CaptionProblem::too_long) {
    impl_->tag(g, nullptr);
    graph_from_tags(g);
    normalise_edges(g);
    g.quality = "tagger";
    return g;
  }
  std::string lowered = caption;
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto spans = token_spans(lowered, g.tokens);
  const std::string text = with_dictionary_forms(lowered, spans);
  const int offset = static_cast<int>(kFragmentPrefix.size());
  const int n = static_cast<int>(g.tokens.size());

  // A complete linkage of the caption as a sentence, else of the caption as
  // the object of "I see", else the linkage with the fewest null words.
  // A sentence that parses at no extra cost is taken as it is; otherwise the
  // cheaper of the two readings ("two people riding bikes" parses as a
  // sentence with "people" as a verb, at a higher cost).
  TokenLinkage plain, prefixed;
  const bool plain_ok = impl_->parse(text, 0, 0, spans, plain);
  const TokenLinkage* best = nullptr;
  if (plain_ok && plain.finite_clause && plain.cost <= 0) {
    best = &plain;
  } else if (impl_->parse(kFragmentPrefix + text, offset, 0, spans, prefixed)) {
    const bool fragment_reading = !prefixed.prefix_takes_clause && !prefixed.has_subject && prefixed.cost < plain.cost;
    best = plain_ok && plain.finite_clause && !fragment_reading ? &plain : &prefixed;
  } else if (plain_ok) {
    best = &plain;
  } else {
    const bool a = impl_->parse(text, 0, n, spans, plain);
    const bool b = impl_->parse(kFragmentPrefix + text, offset, n, spans, prefixed);
    if (a || b) best = !b || (a && plain.nulls <= prefixed.nulls) ? &plain : &prefixed;
  }
  if (!best) {
    impl_->tag(g, nullptr);
    graph_from_tags(g);
    normalise_edges(g);
    g.quality = "tagger";
    return g;
  }
  impl_->tag(g, best);
  GraphBuilder(g, *best).build();
  normalise_edges(g);
  g.quality = best->nulls > 0 ? "partial" : "full";
  return g;
}

}  // namespace sm
