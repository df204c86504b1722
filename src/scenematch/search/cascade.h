// Recall of a two-stage (cascade) search: a first stage proposes K candidates
// per query and the full model re-ranks only those. A ground truth the first
// stage did not propose is a miss at every R@k, whatever its full score.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace sm {

struct CascadeRecall {
  double candidate_recall = 0;  // % of queries with a ground truth among their candidates
  double r1 = 0, r5 = 0, r10 = 0;
  double pair_scorings = 0;  // full-model scorings per query: the candidates found
};

// candidates: (Q, K) item ids from the first stage (-1 where it found fewer),
// or an undefined tensor for every item (exhaustive search); scores: (Q, N)
// the full model's score of every item for each query; truth: each query's
// ground-truth items. A query's two-stage rank is the number of wrong
// candidates scoring >= its best candidate ground truth (ties count against
// it, as in recall_metrics), so with every item a candidate the result equals
// exhaustive recall.
CascadeRecall cascade_recall(const torch::Tensor& candidates, const torch::Tensor& scores,
                             const std::vector<std::vector<int64_t>>& truth);

// The ground truth of image-to-text (each image's captions) or text-to-image
// (each caption's image) queries in a split of `images` images with
// `per_image` captions each.
std::vector<std::vector<int64_t>> image_queries_truth(int64_t images, int64_t per_image);
std::vector<std::vector<int64_t>> caption_queries_truth(int64_t images, int64_t per_image);

// `sample` evenly spaced ids of 0..count-1 (the first, then every
// count/sample-th); all of them when sample is 0 or at least count.
std::vector<int64_t> evenly_spaced_ids(int64_t count, int64_t sample);

}  // namespace sm
