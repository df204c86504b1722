#include "scenematch/models/losses.h"

#include <torch/torch.h>

#include "scenematch/core/error.h"

namespace sm {

torch::Tensor positive_pairs(const std::vector<int64_t>& image_ids, int64_t batch, const torch::Device& device) {
  if (static_cast<int64_t>(image_ids.size()) != batch)
    fail("loss: ", image_ids.size(), " image ids for a batch of ", batch, " pairs");
  torch::Tensor ids = torch::tensor(image_ids, torch::kInt64).to(device);
  return ids.unsqueeze(1).eq(ids.unsqueeze(0)).logical_or(torch::eye(batch, ids.options().dtype(torch::kBool)));
}

torch::Tensor anchor_triplet_loss(const torch::Tensor& scores, const torch::Tensor& positives, double margin,
                                  bool hardest) {
  if (scores.dim() != 2 || scores.size(0) != scores.size(1) || positives.sizes() != scores.sizes())
    fail("loss: scores ", scores.sizes(), " and positives ", positives.sizes(), " must be the same square shape");
  torch::Tensor cost = (margin - scores.diag().unsqueeze(1) + scores).clamp_min(0).masked_fill(positives, 0);
  return hardest ? std::get<0>(cost.max(1)).sum() : cost.sum();
}

torch::Tensor triplet_loss(const torch::Tensor& scores, const torch::Tensor& positives, double margin, bool hardest) {
  return anchor_triplet_loss(scores, positives, margin, hardest) +
         anchor_triplet_loss(scores.t(), positives.t(), margin, hardest);
}

torch::Tensor weighted_hinge(const torch::Tensor& positive, const torch::Tensor& negative, const torch::Tensor& weight,
                             double margin) {
  if (positive.dim() != 1 || negative.sizes() != positive.sizes() || weight.sizes() != positive.sizes())
    fail("loss: positive ", positive.sizes(), ", negative ", negative.sizes(), " and weight ", weight.sizes(),
         " must be vectors of one length");
  return (weight * (margin + negative - positive).clamp_min(0)).sum();
}

}  // namespace sm
