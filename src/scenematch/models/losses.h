// The ranking loss every model trains with.
#pragma once
#include <torch/types.h>

#include <vector>

namespace sm {

// (B, B) bool, true where image i and caption j are a matching pair: the
// diagonal, plus every pair whose image id is the same (two captions of one
// image in a batch). Neither kind is a negative: left in, a same-image pair
// becomes the "hardest negative" and pulls matching pairs apart. Errors when
// the id count differs from `batch`.
torch::Tensor positive_pairs(const std::vector<int64_t>& image_ids, int64_t batch, const torch::Device& device);

// Hinge ranking loss with each row's anchor: cost[i, j] = max(0, margin +
// s[i, j] - s[i, i]) over the columns j that are not positives of row i; the
// largest cost of a row when `hardest` (VSE++), else their sum. Summed over
// rows. Costs, not scores, are masked, so it holds for any score range.
torch::Tensor anchor_triplet_loss(const torch::Tensor& scores, const torch::Tensor& positives, double margin,
                                  bool hardest);

// VSE++ triplet loss on a (B, B) score matrix (rows images, columns captions,
// matched pairs on the diagonal): image anchors along rows plus caption
// anchors down columns.
torch::Tensor triplet_loss(const torch::Tensor& scores, const torch::Tensor& positives, double margin, bool hardest);

// Extra negatives, each scored against its own anchor's positive: the sum of
// weight[n] * max(0, margin + negative[n] - positive[n]) over the pairs n
// (three vectors of one length; a weight of 0 leaves a pair out).
torch::Tensor weighted_hinge(const torch::Tensor& positive, const torch::Tensor& negative, const torch::Tensor& weight,
                             double margin);

}  // namespace sm
