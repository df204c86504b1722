// Losses shared by several models.
#pragma once
#include <torch/types.h>

#include <vector>

namespace sm {

// VSE++ hinge triplet loss on a (B, B) score matrix whose diagonal holds the
// matched pairs. max_violation: only the hardest negative per row (caption
// negatives of an image) and per column (image negatives of a caption);
// otherwise the sum over all negatives. Summed over the batch, as VSE++ does.
torch::Tensor triplet_loss(const torch::Tensor& scores, double margin, bool max_violation);

// (B, B) bool, true where row i and column j are different pairs of the same
// image (two captions of one image in a batch). Neither is a negative of the
// other: left in, they become the "hardest negatives" and pull matching pairs
// apart. Pass to mask_same_image before triplet_loss.
torch::Tensor same_image_pairs(const std::vector<int64_t>& image_ids, const torch::Device& device);
// Scores with same-image pairs set to -2 (a cosine of -2 never violates a margin).
torch::Tensor mask_same_image(const torch::Tensor& scores, const std::vector<int64_t>& image_ids);

}  // namespace sm
