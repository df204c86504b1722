// One training step's loss over a process group, equal to one process's loss
// on the global batch (docs/training.md, "Several processes").
#pragma once
#include <vector>

#include "scenematch/core/process_group.h"
#include "scenematch/data/batcher.h"
#include "scenematch/models/matcher.h"

namespace sm {

// Fails, naming the model, when its loss is not the shared ranking loss that
// distributed_ranking_loss splits.
void check_distributable(const Matcher& model);

// The ranking loss of the global batch (every rank passes the same ids: image
// b with caption b). The loss on the gathered (B, B) score matrix is the same
// on every rank and its gradient reaches this rank's parameters through this
// rank's share of the work only, so the gradients summed over ranks
// (GradientReducer) are one process's:
// - embedding models whose encoders treat items independently (no batch
//   norm, no dropout): each rank encodes its shard of the images and captions
//   and the embeddings are gathered;
// - every other model: each rank encodes the whole batch (so batch-wide
//   encoders and their random draws stay as in one process) and scores its
//   shard of the images, the rows of the score matrix, which are gathered.
// A first-stage head's loss (models/first_stage_head.h) reads the whole
// batch's encodings, which every rank of the second kind holds: each rank adds
// it at 1/world, so the summed gradients are again one process's.
// `loaded_images`, when given, is the batch's images already loaded by the
// caller (data.images(image_ids)); the second kind reuses it instead of
// loading them again.
LossOutput distributed_ranking_loss(Matcher& model, const ProcessGroupContext& group, const Batcher& data,
                                    const std::vector<int64_t>& image_ids, const std::vector<int64_t>& caption_ids,
                                    const ImageBatch* loaded_images = nullptr);

}  // namespace sm
