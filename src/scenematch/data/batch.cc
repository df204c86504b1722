#include "scenematch/data/batch.h"

#include <torch/torch.h>

namespace sm {
namespace {
torch::Tensor move(const torch::Tensor& t, const torch::Device& d) { return t.defined() ? t.to(d) : t; }
}  // namespace

ImageBatch ImageBatch::to(const torch::Device& d) const {
  ImageBatch b = *this;
  for (torch::Tensor* t : {&b.features, &b.region_mask, &b.boxes, &b.obj_region, &b.obj_label, &b.obj_mask,
                           &b.rel_subject, &b.rel_object, &b.rel_predicate, &b.rel_feature, &b.rel_mask})
    *t = move(*t, d);
  return b;
}

CaptionBatch CaptionBatch::to(const torch::Device& d) const {
  CaptionBatch b = *this;
  for (torch::Tensor* t :
       {&b.tokens, &b.lengths, &b.pos, &b.adjacency, &b.triplets, &b.triplet_lengths, &b.triplet_mask})
    *t = move(*t, d);
  return b;
}

torch::Tensor CaptionBatch::word_mask() const {
  auto L = tokens.size(1);
  return torch::arange(L, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);
}

}  // namespace sm
