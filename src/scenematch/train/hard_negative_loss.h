// Compositional hard negatives in training, for every model: each training
// caption's negatives (text/hard_negatives.h) are scored by the model's own
// score() against the caption's own image, and a weighted hinge against the
// caption's own score joins the model's loss. Each image meets only its own
// negatives, so a cross-attention model pays for B * (1 + k) pairs, not for
// B x B * k. Config keys: hard_negatives (bool) and hard_negative_<kind> (the
// weight of each kind, 0 = off), hard_negative_from_epoch and
// hard_negative_margin (null: the model's "margin").
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "scenematch/core/config.h"
#include "scenematch/core/process_group.h"
#include "scenematch/data/batcher.h"
#include "scenematch/models/matcher.h"
#include "scenematch/text/hard_negatives.h"

namespace sm {

// "hard_negative_relation_swap", ... (base_preset carries each, weight 1).
std::string hard_negative_weight_key(NegativeKind kind);

class HardNegativeTerm {
 public:
  // The term for a training run on `train`, parsing its captions (parse
  // cache); nullptr when config "hard_negatives" is false or absent (configs
  // written before the key existed).
  static std::unique_ptr<HardNegativeTerm> from_config(const Config& config, const Batcher& train);
  // `parsed`: one parse per caption of train's split.
  HardNegativeTerm(const Config& config, const Batcher& train, std::vector<CaptionGraph> parsed);

  // Whether epoch (0-based) adds the term: config hard_negative_from_epoch
  // (1-based, absent = 1) and later.
  bool active(int epoch) const { return epoch + 1 >= from_epoch_; }

  // The negatives of one caption of the split, drawn from rng.
  std::vector<HardNegative> negatives(int64_t caption, std::mt19937_64& rng) const;

  // Adds sum over the batch's pairs b and the negatives n of caption b of
  // w_kind(n) * max(0, margin + s(image b, n) - s(image b, caption b)) to
  // out.total, with the model in its current mode and autograd on; logs it as
  // the term "hard_negatives". `seed` fixes the draw (one per step, so
  // resumed runs repeat it). With a group (every rank passes the same global
  // batch), each rank draws and encodes the whole batch, as one process would
  // (batch-wide encoders and their random draws stay the same), scores only
  // its shard of the pairs b, and the shards' sums are all-gathered: every
  // rank adds the whole term, its gradient reaching this rank's pairs only, so
  // the gradients summed over ranks are one process's.
  void add(Matcher& model, const ImageBatch& images, const std::vector<int64_t>& caption_ids, uint64_t seed,
           LossOutput& out, const ProcessGroupContext* group = nullptr) const;

 private:
  const Batcher& train_;
  std::vector<CaptionGraph> parsed_;
  std::vector<std::set<std::string>> present_;  // per image: categories it holds
  CategoryPool pool_;
  double margin_;
  int from_epoch_;
  std::array<double, kNegativeKinds> weight_;
};

}  // namespace sm
