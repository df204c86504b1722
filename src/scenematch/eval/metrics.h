// The field's retrieval metrics, exactly as SCAN/VSE++/GSMN compute them.
#pragma once
#include <torch/types.h>

#include <string>

#include "scenematch/core/config.h"

namespace sm {

struct RecallMetrics {
  double i2t_r1 = 0, i2t_r5 = 0, i2t_r10 = 0, t2i_r1 = 0, t2i_r5 = 0, t2i_r10 = 0, rsum = 0;
  double i2t_medr = 0, i2t_meanr = 0, t2i_medr = 0, t2i_meanr = 0;
  Json to_json() const;  // keys i2t_r1 ... rsum, plus the ranks
};

// sims: (Ni, Nc) with caption c belonging to image c / captions_per_image.
// i2t: an image's rank is the best rank of any of its captions. R@K in percent;
// medr = floor(median rank) + 1, meanr = mean rank + 1 (1-based).
// Ties count against the query: a ground truth tied with a wrong item ranks after it.
RecallMetrics recall_metrics(const torch::Tensor& sims, int64_t captions_per_image);

// "1k": the whole matrix (Flickr30K test). "5fold": mean over five folds of
// 1,000 images (COCO 1K). "5k": the whole matrix (COCO 5K).
RecallMetrics evaluate_protocol(const torch::Tensor& sims, int64_t captions_per_image, const std::string& protocol);

// Prints the papers' table (R@1/5/10 both ways, rSum, ranks).
std::string format_recall_table(const RecallMetrics& m, const std::string& title);

}  // namespace sm
