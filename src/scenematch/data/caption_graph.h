// What the caption parser gives for one caption: tokens aligned with the
// tokenizer, universal POS tags, undirected dependency edges, and a textual
// scene graph. Models index words by token position.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace sm {

// Universal POS tags (17). Index 0 is reserved for padding in tensors, so the
// id of tag t in a batch is static_cast<int>(t) + 1.
enum class Pos : int { ADJ, ADP, ADV, AUX, CCONJ, DET, INTJ, NOUN, NUM, PART, PRON, PROPN, PUNCT, SCONJ, SYM, VERB, X };
constexpr int kNumPos = 17;
const char* pos_name(Pos p);
Pos pos_from_name(const std::string& name);  // "NOUN" -> Pos::NOUN; X when unknown

struct SceneObject {
  int token = -1;                       // index of the head noun in tokens
  std::string word;                     // head noun as written, lowercase
  std::vector<std::string> attributes;  // adjective words
  std::vector<int> attribute_tokens;
  int count = 1;  // "two dogs" -> 2
};

struct SceneRelation {
  std::string subject, predicate, object;  // predicate words joined by single spaces
  int subject_token = -1, object_token = -1;
  std::vector<int> predicate_tokens;
};

struct CaptionGraph {
  std::vector<std::string> tokens;
  std::vector<Pos> pos;                    // one per token
  std::vector<std::pair<int, int>> edges;  // undirected, i < j, no self-loops
  std::vector<SceneObject> objects;
  std::vector<SceneRelation> relations;
  // How the parse was obtained: "full", "partial" (null links), "tagger" (no
  // linkage; tags only), or "empty" (bad input line).
  std::string quality = "full";
};

}  // namespace sm
