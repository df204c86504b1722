// Losses shared by several models.
#pragma once
#include <torch/types.h>

namespace sm {

// VSE++ hinge triplet loss on a (B, B) score matrix whose diagonal holds the
// matched pairs. max_violation: only the hardest negative per row (caption
// negatives of an image) and per column (image negatives of a caption);
// otherwise the sum over all negatives. Summed over the batch, as VSE++ does.
torch::Tensor triplet_loss(const torch::Tensor& scores, double margin, bool max_violation);

}  // namespace sm
