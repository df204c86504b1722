// Turns a split plus caption graphs into tensors. Features are read from the
// memory-mapped file for just the rows in the batch.
#pragma once
#include <random>
#include <vector>

#include "scenematch/data/batch.h"
#include "scenematch/data/caption_graph.h"
#include "scenematch/data/dataset.h"
#include "scenematch/data/vocab.h"

namespace sm {

class Batcher {
 public:
  // graphs: one per caption of the split (tokens_only() or parsed).
  Batcher(const Split& split, const Vocab& vocab, const std::vector<CaptionGraph>& graphs, DataNeeds needs);

  ImageBatch images(const std::vector<int64_t>& image_ids) const;
  CaptionBatch captions(const std::vector<int64_t>& caption_ids) const;
  // Free-standing captions (probes, queries); ids are echoed into the batch.
  CaptionBatch captions_from(const std::vector<const CaptionGraph*>& graphs, const std::vector<int64_t>& ids) const;

  // One training epoch: every caption once, shuffled, cut into batches of
  // caption ids (the image of caption c is split.image_of_caption(c)).
  std::vector<std::vector<int64_t>> epoch(int64_t batch_size, std::mt19937_64& rng) const;
  // The same with several captions of an image together (config
  // captions_per_image): each image's captions, shuffled, are cut into groups
  // of `captions_per_image` (the last one smaller when it does not divide the
  // image's count), the groups are shuffled, and each batch takes
  // batch_size / captions_per_image groups. Every caption still comes once an
  // epoch. captions_per_image = 1 is epoch(batch_size, rng), draw for draw.
  std::vector<std::vector<int64_t>> epoch(int64_t batch_size, int64_t captions_per_image, std::mt19937_64& rng) const;

  // Boxes as GSMN's release evaluation feeds them (release_eval_boxes in
  // batcher.cc); `loader_batch` is the checkpoint's batch_size. 0: off.
  void set_release_eval_boxes(int64_t loader_batch) { release_box_batch_ = loader_batch; }

  int64_t caption_length(int64_t caption_id) const;  // tokens of the split's caption
  const Split& split() const { return split_; }
  const Vocab& vocab() const { return vocab_; }

 private:
  const Split& split_;
  const Vocab& vocab_;
  const std::vector<CaptionGraph>& graphs_;
  DataNeeds needs_;
  int64_t release_box_batch_ = 0;
  torch::Tensor release_eval_boxes(const std::vector<int64_t>& image_ids) const;
};

}  // namespace sm
