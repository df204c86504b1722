// Full similarity matrices: every image and caption encoded once, then scored
// block by block in inference mode (no autograd graph), streamed into the
// result. Shared by eval, probe, validation during training and search.
#pragma once
#include <torch/types.h>

#include <vector>

#include "scenematch/data/batcher.h"
#include "scenematch/models/matcher.h"

namespace sm {

class ProcessGroupContext;

struct SimilarityOptions {
  int64_t encode_batch = 128;   // items per encoder call
  int64_t image_block = 128;    // images per score() call
  int64_t caption_block = 640;  // captions per score() call
  bool progress = true;
  // similarity_matrix(Matcher&, const Batcher&): each rank of the group scores
  // its share of the images and every rank gets the whole matrix. Null: this
  // process scores everything.
  const ProcessGroupContext* group = nullptr;
};

Encoding encode_images(Matcher& m, const Batcher& b, const std::vector<int64_t>& image_ids,
                       const SimilarityOptions& o = {});
Encoding encode_captions(Matcher& m, const Batcher& b, const std::vector<int64_t>& caption_ids,
                         const SimilarityOptions& o = {});
// One batch as evaluation encodes it (eval mode, no autograd).
Encoding encode_image_batch(Matcher& m, const ImageBatch& batch);
// Free-standing captions (probes, queries), encoded in the order given.
Encoding encode_caption_graphs(Matcher& m, const Batcher& b, const std::vector<const CaptionGraph*>& graphs,
                               const SimilarityOptions& o = {});
// (Ni, Nc) float32 on the CPU.
torch::Tensor similarity_matrix(Matcher& m, const Encoding& images, const Encoding& captions,
                                const SimilarityOptions& o = {});
// All images x all captions of the batcher's split (split across o.group's ranks).
torch::Tensor similarity_matrix(Matcher& m, const Batcher& b, const SimilarityOptions& o = {});
// Sparse scoring: image k of `images` against only the captions listed in
// captions_of_image[k] (one score() call per image, never the full matrix).
// Returns one float32 CPU vector per image, in the listed order.
std::vector<torch::Tensor> score_per_image(Matcher& m, const Encoding& images, const Encoding& captions,
                                           const std::vector<std::vector<int64_t>>& captions_of_image);

}  // namespace sm
