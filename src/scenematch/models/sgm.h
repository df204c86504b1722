// SGM's per-pair reference score, computed straight from the paper's Eqs. 6-7
// with plain loops; tests check the batched Matcher::score() against it. The
// model itself registers as "sgm" from sgm.cc.
#pragma once
#include <cstdint>
#include <string>

#include "scenematch/models/encoding.h"

namespace sm::sgm {

struct PairScore {
  double object = 0;           // S^o (Eq. 6)
  double relation = 0;         // S^r (Eq. 7), 0 when not used
  double total = 0;            // S = S^o + S^r; without a relation level S^o + S^o, or S^o (see below)
  bool relation_used = false;  // the caption has a triplet and the image a relation
};

// Image i of `images` against caption c of `captions`, both made by the "sgm"
// matcher. `missing_relation_level`: the config key's value, "object" (the
// object level stands in for the missing relation level) or "zero" (S^r = 0).
PairScore reference_score(const Encoding& images, int64_t i, const Encoding& captions, int64_t c,
                          const std::string& missing_relation_level = "object");

}  // namespace sm::sgm
