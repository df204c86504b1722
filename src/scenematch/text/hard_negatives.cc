#include "scenematch/text/hard_negatives.h"

#include <algorithm>

namespace sm {
namespace {

bool contains(const std::vector<std::string>& words, const std::string& w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

const SceneObject* object_at(const CaptionGraph& g, int token) {
  for (const auto& o : g.objects)
    if (o.token == token) return &o;
  return nullptr;
}

bool is_predicate_token(const CaptionGraph& g, int t) {
  for (const auto& r : g.relations)
    if (std::find(r.predicate_tokens.begin(), r.predicate_tokens.end(), t) != r.predicate_tokens.end()) return true;
  return false;
}

// Words a phrase may start with before its head: determiners, numbers,
// adjectives (and the adverbs on them), compound nouns.
bool premodifier(const CaptionGraph& g, int t, int right) {
  switch (g.pos[t]) {
    case Pos::DET:
    case Pos::NUM:
    case Pos::ADJ:
    case Pos::NOUN:
    case Pos::PROPN:
      return true;
    case Pos::ADV:
      return g.pos[right] == Pos::ADJ;
    default:
      return false;
  }
}

}  // namespace

const char* negative_kind_name(NegativeKind kind) {
  switch (kind) {
    case NegativeKind::relation_swap:
      return "relation_swap";
    case NegativeKind::attribute_swap:
      return "attribute_swap";
    case NegativeKind::absent_object:
      return "absent_object";
  }
  return "?";
}

CategoryPool CategoryPool::from_graphs(const std::vector<CaptionGraph>& graphs,
                                       const std::function<bool(const std::string&)>& keep) {
  std::set<std::string> singular, plural;
  for (const auto& g : graphs)
    for (const auto& o : g.objects)
      if (!o.word.empty() && (!keep || keep(o.word))) (o.count > 1 ? plural : singular).insert(o.word);
  return {{singular.begin(), singular.end()}, {plural.begin(), plural.end()}};
}

std::vector<int> noun_phrase(const CaptionGraph& g, const SceneObject& object) {
  const int head = object.token;
  if (head < 0 || head >= static_cast<int>(g.tokens.size())) return {};
  int start = head;
  while (start > 0 && premodifier(g, start - 1, start) && !object_at(g, start - 1) && !is_predicate_token(g, start - 1))
    --start;
  for (int a : object.attribute_tokens)
    if (a < start || a > head) return {};
  std::vector<int> span;
  for (int t = start; t <= head; ++t) span.push_back(t);
  return span;
}

std::optional<CaptionGraph> swap_relation(const CaptionGraph& g, size_t r) {
  if (r >= g.relations.size()) return std::nullopt;
  const SceneRelation& rel = g.relations[r];
  const int s_head = rel.subject_token, o_head = rel.object_token;
  const SceneObject* subject = object_at(g, s_head);
  const SceneObject* object = object_at(g, o_head);
  if (!subject || !object || s_head == o_head || g.tokens[s_head] == g.tokens[o_head]) return std::nullopt;
  std::vector<int> first = noun_phrase(g, *subject), second = noun_phrase(g, *object);
  if (first.empty() || second.empty()) return std::nullopt;
  if (first.front() > second.front()) std::swap(first, second);
  if (first.back() >= second.front()) return std::nullopt;
  for (int t : rel.predicate_tokens)
    if ((t >= first.front() && t <= first.back()) || (t >= second.front() && t <= second.back())) return std::nullopt;

  // order[new position] = old position: the two phrases change places.
  const int n = static_cast<int>(g.tokens.size());
  std::vector<int> order;
  for (int t = 0; t < first.front(); ++t) order.push_back(t);
  order.insert(order.end(), second.begin(), second.end());
  for (int t = first.back() + 1; t < second.front(); ++t) order.push_back(t);
  order.insert(order.end(), first.begin(), first.end());
  for (int t = second.back() + 1; t < n; ++t) order.push_back(t);
  std::vector<int> moved(n);  // old position -> new position: a word and what belongs to it
  for (int p = 0; p < n; ++p) moved[order[p]] = p;
  // A reference to one of the two heads from outside its phrase is a role in
  // the sentence (the subject of "riding", the noun after "a"): it now reaches
  // whichever head fills that place.
  auto role = [&](int t) {
    if (t == s_head) return moved[o_head];
    if (t == o_head) return moved[s_head];
    return moved[t];
  };
  auto phrase_of = [&](int t) {
    if (t >= first.front() && t <= first.back()) return 1;
    if (t >= second.front() && t <= second.back()) return 2;
    return 0;
  };

  CaptionGraph out = g;
  for (int p = 0; p < n; ++p) {
    out.tokens[p] = g.tokens[order[p]];
    out.pos[p] = g.pos[order[p]];
  }
  out.edges.clear();
  for (auto [i, j] : g.edges) {
    const bool inside = phrase_of(i) != 0 && phrase_of(i) == phrase_of(j);
    int a = inside ? moved[i] : role(i), b = inside ? moved[j] : role(j);
    if (a > b) std::swap(a, b);
    if (a != b) out.edges.emplace_back(a, b);
  }
  std::sort(out.edges.begin(), out.edges.end());
  out.edges.erase(std::unique(out.edges.begin(), out.edges.end()), out.edges.end());
  for (auto& o : out.objects) {
    o.token = moved[o.token];
    for (int& a : o.attribute_tokens) a = moved[a];
  }
  for (auto& x : out.relations) {
    x.subject_token = role(x.subject_token);
    x.object_token = role(x.object_token);
    for (int& t : x.predicate_tokens) t = moved[t];
    x.subject = out.tokens[x.subject_token];
    x.object = out.tokens[x.object_token];
  }
  return out;
}

std::optional<CaptionGraph> swap_attributes(const CaptionGraph& g, size_t a, size_t i, size_t b, size_t j) {
  if (a == b || a >= g.objects.size() || b >= g.objects.size()) return std::nullopt;
  const SceneObject &oa = g.objects[a], &ob = g.objects[b];
  if (i >= oa.attributes.size() || j >= ob.attributes.size() || oa.attribute_tokens.size() != oa.attributes.size() ||
      ob.attribute_tokens.size() != ob.attributes.size())
    return std::nullopt;
  const std::string &wa = oa.attributes[i], &wb = ob.attributes[j];
  if (wa == wb || contains(oa.attributes, wb) || contains(ob.attributes, wa)) return std::nullopt;
  const int ta = oa.attribute_tokens[i], tb = ob.attribute_tokens[j];
  // Exchanging the words in place keeps every link: each position still
  // modifies its own noun, now with the other's word.
  CaptionGraph out = g;
  std::swap(out.tokens[ta], out.tokens[tb]);
  std::swap(out.pos[ta], out.pos[tb]);
  out.objects[a].attributes[i] = wb;
  out.objects[b].attributes[j] = wa;
  return out;
}

CaptionGraph replace_object(const CaptionGraph& g, size_t o, const std::string& category) {
  CaptionGraph out = g;
  const int head = g.objects.at(o).token;
  out.tokens.at(head) = category;
  out.objects[o].word = category;
  for (auto& r : out.relations) {
    if (r.subject_token == head) r.subject = category;
    if (r.object_token == head) r.object = category;
  }
  return out;
}

std::vector<HardNegative> make_hard_negatives(const CaptionGraph& g, const std::set<std::string>& present,
                                              const CategoryPool& pool, std::mt19937_64& rng) {
  std::vector<HardNegative> negatives;
  auto below = [&](size_t n) { return static_cast<size_t>(rng() % n); };

  std::vector<size_t> relations(g.relations.size());
  for (size_t r = 0; r < relations.size(); ++r) relations[r] = r;
  for (size_t k = relations.size(); k > 1; --k) std::swap(relations[k - 1], relations[below(k)]);
  for (size_t r : relations)
    if (auto swapped = swap_relation(g, r)) {
      negatives.push_back({NegativeKind::relation_swap, std::move(*swapped)});
      break;
    }

  struct Pair {
    size_t a, i, b, j;
  };
  std::vector<Pair> pairs;
  for (size_t a = 0; a < g.objects.size(); ++a)
    for (size_t b = a + 1; b < g.objects.size(); ++b)
      for (size_t i = 0; i < g.objects[a].attributes.size(); ++i)
        for (size_t j = 0; j < g.objects[b].attributes.size(); ++j)
          if (swap_attributes(g, a, i, b, j)) pairs.push_back({a, i, b, j});
  if (!pairs.empty()) {
    const Pair& p = pairs[below(pairs.size())];
    negatives.push_back({NegativeKind::attribute_swap, *swap_attributes(g, p.a, p.i, p.b, p.j)});
  }

  if (!g.objects.empty()) {
    const size_t o = below(g.objects.size());
    const auto& candidates = g.objects[o].count > 1 ? pool.plural : pool.singular;
    // From a random place in the pool, the first category the image and the
    // caption lack: no filtered copy of a pool that holds thousands of nouns
    // on real data, where almost every one is absent from any image.
    const size_t start = candidates.empty() ? 0 : below(candidates.size());
    for (size_t k = 0; k < candidates.size(); ++k) {
      const std::string& c = candidates[(start + k) % candidates.size()];
      const bool named = std::any_of(g.objects.begin(), g.objects.end(), [&](const auto& x) { return x.word == c; });
      if (present.count(c) || named) continue;
      negatives.push_back({NegativeKind::absent_object, replace_object(g, o, c)});
      break;
    }
  }
  return negatives;
}

}  // namespace sm
