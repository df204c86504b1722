// Captions and probes of a synthetic scene. Captions come from varied
// templates (participle phrases, clauses, "there is", "with"), synonyms,
// determiners and counts; each mentions at least one relation. Alongside the
// text, the ground truth of what the caption says (head nouns and predicate
// words exactly as written), for measuring the caption parser.
#pragma once
#include <string>
#include <vector>

#include "scenematch/synth/random.h"
#include "scenematch/synth/scene.h"

namespace sm::synth {

struct GtObject {
  std::string word;  // head noun as written ("dogs" in "two dogs")
  std::vector<std::string> attributes;
  int count = 1;
};
struct GtRelation {
  std::string subject, predicate, object;  // head nouns and predicate words as written
};
struct Caption {
  std::string text;
  std::vector<GtObject> objects;
  std::vector<GtRelation> relations;
  std::string gt_json() const;  // one line of S_caps_gt.jsonl
};

// Caption forms beyond the default templates, each a probability (0: never,
// and then no random draw is made, so captions stay as they were).
struct CaptionStyle {
  // A one-relation caption says its relation the other way round: the
  // passive of an action ("a cat being chased by a dog"), the converse of a
  // place ("a table under a cup", "a box containing a cat").
  double paraphrase = 0;
  // A two-relation caption is two sentences: "a man is holding a dog . the
  // dog is chasing a cat".
  double two_sentences = 0;
  // A group's first mention is a count phrase: "a pair of dogs", "a group of
  // three dogs" (recorded with its count, like "three dogs").
  double count_phrases = 0;
};

// `count` distinct captions (fewer only if the scene cannot give that many).
std::vector<Caption> make_captions(const Scene& scene, Rng& rng, int count = 5, const CaptionStyle& style = {});

struct ProbeText {
  std::string kind;  // relation-swap, attribute-swap, object-swap, count, relation-swap-reversed
  std::string positive, negative;
  bool plausible_swap = false;  // relation-swap: the swapped triple is type-valid too
  int relation = -1;            // relation-swap kinds: the index of the scene relation swapped
};

// At most one probe of each kind (a kind is left out when the scene cannot
// give it, e.g. attribute-swap without two attributed objects).
// With `reversed_phrasing` (worlds whose captions are paraphrased), also a
// relation-swap-reversed probe: the relation swap in its passive or converse
// form, when its predicate has one.
std::vector<ProbeText> make_probes(const Scene& scene, Rng& rng, bool reversed_phrasing = false);

}  // namespace sm::synth
