// ALGR (Tian, Wu, Jia, IEEE TIP 2022): the pieces tests reach directly. The
// model itself registers as "algr" from algr.cc.
#pragma once
#include <torch/types.h>

#include "scenematch/models/matcher.h"

namespace sm::algr {

// cos(e^v, e^t) of one image and one caption, computed graph by graph from
// Eqs. 1-5 and 12 with plain 2-D matrices (no batch dimension, no masks): the
// reference the batched encoders and score() are tested against.
// regions (R, F): the image's present regions only; tokens (L) int64: the
// caption's words only. `model` must be an "algr" matcher.
double reference_score(Matcher& model, const torch::Tensor& regions, const torch::Tensor& tokens);

// lambda of Eq. 16 at a (0-based) epoch: 0 in phase 1, then a geometric ramp
// from lambda_start to lambda_end, reached at (1-based) epoch lambda_ramp_end.
double lambda_at(const Config& config, int epoch);

}  // namespace sm::algr
