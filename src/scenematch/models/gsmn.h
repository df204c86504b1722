// GSMN (Liu et al., "Graph Structured Network for Image-Text Matching"): the
// model registers itself as "gsmn"; this header only exposes the per-pair
// reference scorer that tests compare the batched score() against.
// Convention for every model: internals that tests reach live in
// sm::<model>, and the per-pair reference is <model>::reference_score.
#pragma once
#include <torch/types.h>

#include "scenematch/models/matcher.h"

namespace sm::gsmn {

// Score of image `image` of `images` with caption `caption` of `captions`
// (encodings made by a "gsmn" model), computed straight from the paper's
// equations for that one pair: explicit attended vectors, block cosines and
// neighbour sums. Slow; for tests.
torch::Tensor reference_score(Matcher& model, const Encoding& images, int64_t image, const Encoding& captions,
                              int64_t caption);

}  // namespace sm::gsmn
