// SGM's per-pair reference score, computed straight from the paper's Eqs. 6-7
// with plain loops; tests check the batched Matcher::score() against it. The
// model itself registers as "sgm" from sgm.cc.
#pragma once
#include <cstdint>

#include "scenematch/models/encoding.h"

namespace sm::sgm {

struct PairScore {
  double object = 0;           // S^o (Eq. 6)
  double relation = 0;         // S^r (Eq. 7), 0 when not used
  double total = 0;            // S = S^o + S^r
  bool relation_used = false;  // the caption has a triplet and the image a relation
};

// Image i of `images` against caption c of `captions`, both made by the "sgm" matcher.
PairScore reference_score(const Encoding& images, int64_t i, const Encoding& captions, int64_t c);

}  // namespace sm::sgm
