#include "scenematch/data/caption_graph.h"

namespace sm {
namespace {
const char* kNames[kNumPos] = {"ADJ",  "ADP",  "ADV",   "AUX",   "CCONJ", "DET", "INTJ", "NOUN", "NUM",
                               "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"};
}

const char* pos_name(Pos p) { return kNames[static_cast<int>(p)]; }

Pos pos_from_name(const std::string& name) {
  for (int i = 0; i < kNumPos; ++i)
    if (name == kNames[i]) return static_cast<Pos>(i);
  return Pos::X;
}

}  // namespace sm
