#include "scenematch/eval/metrics.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <vector>

namespace sm {
namespace {

struct Ranks {
  std::vector<int64_t> i2t, t2i;  // 0-based, ties against the query
};

// Counts instead of sorting. Image i's best caption score is g_i; its rank is
// the number of wrong captions scoring >= g_i (no ground truth scores above
// g_i, and every ground truth equal to g_i is taken out of the >= count).
// Caption c's rank is the number of other images scoring >= its ground truth.
// One pass over the matrix answers both directions; each thread takes a band
// of rows with its own caption counters, and the inner loop vectorises.
template <class T>
Ranks count_ranks(const torch::Tensor& sims, int64_t per_image) {
  const int64_t ni = sims.size(0), nc = sims.size(1);
  const T* s = sims.data_ptr<T>();
  std::vector<T> best(ni);
  std::vector<int64_t> best_ties(ni);
  for (int64_t i = 0; i < ni; ++i) {
    const T* gt = s + i * nc + i * per_image;
    best[i] = *std::max_element(gt, gt + per_image);
    best_ties[i] = std::count(gt, gt + per_image, best[i]);
  }
  std::vector<T> caption_gt(nc);
  for (int64_t c = 0; c < nc; ++c) caption_gt[c] = s[(c / per_image) * nc + c];

  Ranks r;
  r.i2t.resize(ni);
  r.t2i.assign(nc, -1);  // the ground-truth image counts itself once
  std::mutex merge;
  int64_t nan_rows = 0;
  at::parallel_for(0, ni, 16, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> t2i_ge(nc, 0);
    int64_t nans = 0;
    for (int64_t i = begin; i < end; ++i) {
      const T* row = s + i * nc;
      const T g = best[i];
      int64_t ge = 0, row_nans = 0;
      for (int64_t c = 0; c < nc; ++c) {
        ge += row[c] >= g;
        t2i_ge[c] += row[c] >= caption_gt[c];
        row_nans += row[c] != row[c];
      }
      r.i2t[i] = ge - best_ties[i];
      nans += row_nans != 0;
    }
    std::lock_guard<std::mutex> lock(merge);
    for (int64_t c = 0; c < nc; ++c) r.t2i[c] += t2i_ge[c];
    nan_rows += nans;
  });
  if (nan_rows > 0) {
    auto at = torch::nonzero(torch::isnan(sims))[0];
    fail("recall_metrics: similarity matrix has NaN at image ", at[0].item<int64_t>(), ", caption ",
         at[1].item<int64_t>());
  }
  return r;
}

double recall_at(const std::vector<int64_t>& ranks, int64_t k) {
  auto hits = std::count_if(ranks.begin(), ranks.end(), [k](int64_t r) { return r < k; });
  return 100.0 * static_cast<double>(hits) / static_cast<double>(ranks.size());
}

// floor(median) + 1, with NumPy's median (mean of the two middle values).
double median_rank(std::vector<int64_t> ranks) {
  const size_t n = ranks.size(), mid = n / 2;
  std::nth_element(ranks.begin(), ranks.begin() + mid, ranks.end());
  double median = static_cast<double>(ranks[mid]);
  if (n % 2 == 0) {
    double below = static_cast<double>(*std::max_element(ranks.begin(), ranks.begin() + mid));
    median = (median + below) / 2.0;
  }
  return std::floor(median) + 1.0;
}

double mean_rank(const std::vector<int64_t>& ranks) {
  double sum = 0;
  for (int64_t r : ranks) sum += static_cast<double>(r);
  return sum / static_cast<double>(ranks.size()) + 1.0;
}

void add_scaled(RecallMetrics& into, const RecallMetrics& m, double w) {
  into.i2t_r1 += w * m.i2t_r1;
  into.i2t_r5 += w * m.i2t_r5;
  into.i2t_r10 += w * m.i2t_r10;
  into.t2i_r1 += w * m.t2i_r1;
  into.t2i_r5 += w * m.t2i_r5;
  into.t2i_r10 += w * m.t2i_r10;
  into.rsum += w * m.rsum;
  into.i2t_medr += w * m.i2t_medr;
  into.i2t_meanr += w * m.i2t_meanr;
  into.t2i_medr += w * m.t2i_medr;
  into.t2i_meanr += w * m.t2i_meanr;
}

}  // namespace

Json RecallMetrics::to_json() const {
  return {{"i2t_r1", i2t_r1},       {"i2t_r5", i2t_r5},     {"i2t_r10", i2t_r10},    {"t2i_r1", t2i_r1},
          {"t2i_r5", t2i_r5},       {"t2i_r10", t2i_r10},   {"rsum", rsum},          {"i2t_medr", i2t_medr},
          {"i2t_meanr", i2t_meanr}, {"t2i_medr", t2i_medr}, {"t2i_meanr", t2i_meanr}};
}

RecallMetrics recall_metrics(const torch::Tensor& sims_in, int64_t captions_per_image) {
  if (sims_in.dim() != 2) fail("recall_metrics: similarity matrix must be 2-D, got ", sims_in.dim(), " dims");
  if (captions_per_image < 1) fail("recall_metrics: captions_per_image must be >= 1, got ", captions_per_image);
  const int64_t ni = sims_in.size(0), nc = sims_in.size(1);
  if (ni == 0) fail("recall_metrics: similarity matrix has no images");
  if (nc != ni * captions_per_image)
    fail("recall_metrics: ", nc, " captions for ", ni, " images at ", captions_per_image,
         " captions per image (expected ", ni * captions_per_image, ")");
  torch::Tensor sims = sims_in.to(torch::kCPU).contiguous();
  if (sims.scalar_type() != torch::kDouble) sims = sims.to(torch::kFloat);
  Ranks r = sims.scalar_type() == torch::kDouble ? count_ranks<double>(sims, captions_per_image)
                                                 : count_ranks<float>(sims, captions_per_image);
  RecallMetrics m;
  m.i2t_r1 = recall_at(r.i2t, 1);
  m.i2t_r5 = recall_at(r.i2t, 5);
  m.i2t_r10 = recall_at(r.i2t, 10);
  m.t2i_r1 = recall_at(r.t2i, 1);
  m.t2i_r5 = recall_at(r.t2i, 5);
  m.t2i_r10 = recall_at(r.t2i, 10);
  m.rsum = m.i2t_r1 + m.i2t_r5 + m.i2t_r10 + m.t2i_r1 + m.t2i_r5 + m.t2i_r10;
  m.i2t_medr = median_rank(r.i2t);
  m.i2t_meanr = mean_rank(r.i2t);
  m.t2i_medr = median_rank(r.t2i);
  m.t2i_meanr = mean_rank(r.t2i);
  return m;
}

RecallMetrics evaluate_protocol(const torch::Tensor& sims, int64_t captions_per_image, const std::string& protocol) {
  if (protocol == "1k" || protocol == "5k") return recall_metrics(sims, captions_per_image);
  if (protocol != "5fold") fail("unknown evaluation protocol '", protocol, "'; known protocols: 1k, 5fold, 5k");
  constexpr int64_t kFolds = 5, kFoldImages = 1000;
  if (sims.dim() != 2 || sims.size(0) != kFolds * kFoldImages)
    fail("protocol 5fold needs exactly 5000 images (COCO's 5K test split), got ", sims.dim() == 2 ? sims.size(0) : 0,
         "; use --protocol 1k for other splits");
  const int64_t fold_captions = kFoldImages * captions_per_image;
  RecallMetrics mean;
  for (int64_t f = 0; f < kFolds; ++f) {
    torch::Tensor fold =
        sims.slice(0, f * kFoldImages, (f + 1) * kFoldImages).slice(1, f * fold_captions, (f + 1) * fold_captions);
    add_scaled(mean, recall_metrics(fold, captions_per_image), 1.0 / kFolds);
  }
  return mean;
}

std::string format_recall_table(const RecallMetrics& m, const std::string& title) {
  char buf[512];
  std::string out = title + "\n";
  std::snprintf(buf, sizeof buf, "%-15s %7s %7s %7s %7s %8s\n", "", "R@1", "R@5", "R@10", "medr", "meanr");
  out += buf;
  std::snprintf(buf, sizeof buf, "%-15s %7.2f %7.2f %7.2f %7.1f %8.2f\n", "image-to-text", m.i2t_r1, m.i2t_r5,
                m.i2t_r10, m.i2t_medr, m.i2t_meanr);
  out += buf;
  std::snprintf(buf, sizeof buf, "%-15s %7.2f %7.2f %7.2f %7.1f %8.2f\n", "text-to-image", m.t2i_r1, m.t2i_r5,
                m.t2i_r10, m.t2i_medr, m.t2i_meanr);
  out += buf;
  std::snprintf(buf, sizeof buf, "%-15s %7.2f\n", "rSum", m.rsum);
  out += buf;
  return out;
}

}  // namespace sm
