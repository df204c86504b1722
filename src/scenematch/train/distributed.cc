#include "scenematch/train/distributed.h"

#include <torch/torch.h>

#include "scenematch/models/first_stage_head.h"

namespace sm {
namespace {

// Whether an item's encoding depends on nothing but the item (and the
// weights): no batch statistics, no random draws.
bool encodes_items_independently(const Matcher& model) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    const std::string name = module->name();
    if (name.find("BatchNorm") != std::string::npos || name.find("Dropout") != std::string::npos) return false;
  }
  return true;
}

std::vector<int64_t> slice(const std::vector<int64_t>& ids, std::pair<int64_t, int64_t> range) {
  return std::vector<int64_t>(ids.begin() + range.first, ids.begin() + range.second);
}

}  // namespace

void check_distributable(const Matcher& model) {
  if (!model.uses_ranking_loss())
    fail("model '", model.name(),
         "' adds loss terms of its own to the ranking loss; distributed training splits only the shared ranking "
         "loss, so train it in one process (without `scenematch launch` or WORLD_SIZE)");
}

LossOutput distributed_ranking_loss(Matcher& model, const ProcessGroupContext& group, const Batcher& data,
                                    const std::vector<int64_t>& image_ids, const std::vector<int64_t>& caption_ids,
                                    const ImageBatch* loaded_images) {
  const int64_t n = static_cast<int64_t>(image_ids.size());
  const auto shard = group.shard(n);
  torch::Tensor scores;
  const FirstStageHeadImpl* head = first_stage_head_of(model);
  Encoding images, captions;  // the whole batch's (the first-stage head reads them; embedding models have none)
  // A final batch smaller than the world would leave a rank nothing to encode.
  if (model.embedding_scores() && n >= group.world_size() && encodes_items_independently(model)) {
    const Encoding image_shard = model.encode_images(data.images(slice(image_ids, shard)));
    const Encoding caption_shard = model.encode_captions(data.captions(slice(caption_ids, shard)));
    Encoding all_images, all_captions;
    all_images["emb"] = group.all_gather_rows(model.global_embedding(image_shard, true));
    all_captions["emb"] = group.all_gather_rows(model.global_embedding(caption_shard, false));
    scores = model.score(all_images, all_captions);
  } else {
    images = model.encode_images(loaded_images ? *loaded_images : data.images(image_ids));
    captions = model.encode_captions(data.captions(caption_ids));
    torch::Tensor rows;
    if (shard.first < shard.second) {
      rows = model.score(images.slice(shard.first, shard.second), captions);
    } else {
      // No row for this rank: an empty slice of a scored row keeps every
      // parameter's gradient defined, as on the other ranks, so the gradient
      // all-reduce stays aligned.
      rows = model.score(images.slice(0, 1), captions).slice(0, 0, 0);
    }
    scores = group.all_gather_rows(rows);
  }
  LossOutput out;
  out.images = images;  // empty on the embedding path, which encodes only its shard
  out.total = model.ranking_loss(scores, image_ids);
  out.terms["triplet"] = out.total.item<double>();
  // Every rank holds the whole batch's encodings, so each computes the head's
  // whole loss, with 1/world of its gradient: summed, one process's gradient.
  if (head) head->add_loss(model, images, captions, scores, image_ids, out, 1.0 / double(group.world_size()));
  return out;
}

}  // namespace sm
