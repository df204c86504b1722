#include "scenematch/models/losses.h"

#include <torch/torch.h>

namespace sm {

torch::Tensor triplet_loss(const torch::Tensor& scores, double margin, bool max_violation) {
  TORCH_CHECK(scores.dim() == 2 && scores.size(0) == scores.size(1), "triplet_loss: scores must be square");
  torch::Tensor positive = scores.diag().view({-1, 1});
  // cost_c[i, j]: caption j as a negative for image i; cost_i[i, j]: image i as a negative for caption j.
  torch::Tensor cost_c = (margin + scores - positive).clamp_min(0);
  torch::Tensor cost_i = (margin + scores - positive.t()).clamp_min(0);
  torch::Tensor eye = torch::eye(scores.size(0), scores.options().dtype(torch::kBool));
  cost_c = cost_c.masked_fill(eye, 0);
  cost_i = cost_i.masked_fill(eye, 0);
  if (max_violation) return std::get<0>(cost_c.max(1)).sum() + std::get<0>(cost_i.max(0)).sum();
  return cost_c.sum() + cost_i.sum();
}

torch::Tensor same_image_pairs(const std::vector<int64_t>& image_ids, const torch::Device& device) {
  auto ids = torch::tensor(image_ids, torch::kInt64).to(device);
  auto eye = torch::eye(ids.size(0), ids.options().dtype(torch::kBool));
  return ids.unsqueeze(1).eq(ids.unsqueeze(0)).logical_and(eye.logical_not());
}

torch::Tensor mask_same_image(const torch::Tensor& scores, const std::vector<int64_t>& image_ids) {
  if (static_cast<int64_t>(image_ids.size()) != scores.size(0)) return scores;
  return scores.masked_fill(same_image_pairs(image_ids, scores.device()), -2.0);
}

}  // namespace sm
