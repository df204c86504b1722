// Compositional hard negatives for training, made from a caption's parse
// alone (so they work on real captions): the subject and object of a relation
// exchanged, an attribute exchanged between two objects, an object replaced by
// a category the image does not hold. Each negative is a CaptionGraph that
// reads as the parser would read the changed sentence, so models that take
// parses (adjacency, triplets) see a consistent input. Independent of the
// synthetic world's probe generator (synth/captions.cc): these rules see only
// parses, never scenes, so probes measure generalisation, not these rules.
#pragma once
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "scenematch/data/caption_graph.h"

namespace sm {

enum class NegativeKind { relation_swap, attribute_swap, absent_object };
constexpr int kNegativeKinds = 3;
const char* negative_kind_name(NegativeKind kind);  // "relation_swap", ...

struct HardNegative {
  NegativeKind kind;
  CaptionGraph graph;
};

// Head nouns of parsed captions (objects of their graphs), singular and
// plural forms apart, so a replacement keeps the caption's number.
struct CategoryPool {
  std::vector<std::string> singular, plural;  // sorted, unique
  // `keep` filters words (e.g. those the vocabulary holds); empty keeps all.
  static CategoryPool from_graphs(const std::vector<CaptionGraph>& graphs,
                                  const std::function<bool(const std::string&)>& keep = {});
};

// Tokens of an object's noun phrase that move with it when two objects
// exchange places: the head and the determiners, numbers, adjectives and
// compound nouns right before it. {} when an attribute of the object lies
// outside that span (a predicative adjective would change owner).
std::vector<int> noun_phrase(const CaptionGraph& g, const SceneObject& object);

// Relation `r` with its subject and object noun phrases exchanged ("a man
// riding a horse" -> "a horse riding a man"); every other relation keeps its
// place in the sentence. nullopt when the two phrases cannot be exchanged
// cleanly (same head word, overlapping phrases, the predicate inside one, an
// endpoint that is no object of the graph).
std::optional<CaptionGraph> swap_relation(const CaptionGraph& g, size_t r);

// Attribute `i` of object `a` exchanged with attribute `j` of object `b`
// ("a red car and a blue truck" -> "a blue car and a red truck"). nullopt when
// the two words are equal or either object already has the other's word.
std::optional<CaptionGraph> swap_attributes(const CaptionGraph& g, size_t a, size_t i, size_t b, size_t j);

// Object `o`'s head noun replaced by `category` (relations naming it follow).
CaptionGraph replace_object(const CaptionGraph& g, size_t o, const std::string& category);

// At most one negative of each kind, choices drawn from `rng`. `present`:
// categories the image holds (its scene graph's labels and the words of its
// captions); the absent object is drawn from `pool` outside them. A kind the
// caption cannot give (no relation, fewer than two attributed objects) is
// left out.
std::vector<HardNegative> make_hard_negatives(const CaptionGraph& g, const std::set<std::string>& present,
                                              const CategoryPool& pool, std::mt19937_64& rng);

}  // namespace sm
