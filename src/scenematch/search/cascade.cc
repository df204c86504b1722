#include "scenematch/search/cascade.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "scenematch/core/config.h"

namespace sm {

CascadeRecall cascade_recall(const torch::Tensor& candidates_in, const torch::Tensor& scores_in,
                             const std::vector<std::vector<int64_t>>& truth) {
  const bool exhaustive = !candidates_in.defined();
  if (scores_in.dim() != 2) fail("cascade_recall: scores ", scores_in.sizes(), " must be (Q, N)");
  if (!exhaustive && (candidates_in.dim() != 2 || candidates_in.size(0) != scores_in.size(0)))
    fail("cascade_recall: candidates ", candidates_in.sizes(), " must be (Q, K) for scores ", scores_in.sizes());
  const int64_t nq = scores_in.size(0), n = scores_in.size(1);
  if (static_cast<int64_t>(truth.size()) != nq)
    fail("cascade_recall: ", truth.size(), " ground-truth lists for ", nq, " queries");
  // Exhaustive search: every query's candidates are 0..N-1, one shared row.
  const torch::Tensor candidates = exhaustive ? torch::arange(n, torch::kLong).unsqueeze(0)
                                              : candidates_in.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t k = candidates.size(1);
  const torch::Tensor scores = scores_in.to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t* cand = candidates.data_ptr<int64_t>();
  const float* s = scores.data_ptr<float>();
  int64_t found = 0, hit1 = 0, hit5 = 0, hit10 = 0, scored = 0;
  for (int64_t q = 0; q < nq; ++q) {
    const int64_t* row = exhaustive ? cand : cand + q * k;
    const float* qs = s + q * n;
    auto is_truth = [&](int64_t item) { return std::count(truth[q].begin(), truth[q].end(), item) > 0; };
    float best = -std::numeric_limits<float>::infinity();
    bool any = false;
    for (int64_t j = 0; j < k; ++j) {
      if (row[j] < 0) continue;
      if (row[j] >= n) fail("cascade_recall: candidate ", row[j], " of query ", q, " is not one of the ", n, " items");
      ++scored;
      if (is_truth(row[j]) && (!any || qs[row[j]] > best)) best = qs[row[j]], any = true;
    }
    if (!any) continue;
    ++found;
    int64_t rank = 0;
    for (int64_t j = 0; j < k; ++j)
      if (row[j] >= 0 && !is_truth(row[j]) && qs[row[j]] >= best) ++rank;
    hit1 += rank < 1, hit5 += rank < 5, hit10 += rank < 10;
  }
  const double per = nq > 0 ? 100.0 / static_cast<double>(nq) : 0;
  return {static_cast<double>(found) * per, static_cast<double>(hit1) * per, static_cast<double>(hit5) * per,
          static_cast<double>(hit10) * per, nq > 0 ? static_cast<double>(scored) / static_cast<double>(nq) : 0};
}

std::vector<std::vector<int64_t>> image_queries_truth(int64_t images, int64_t per_image) {
  std::vector<std::vector<int64_t>> truth(images);
  for (int64_t i = 0; i < images; ++i)
    for (int64_t c = 0; c < per_image; ++c) truth[i].push_back(i * per_image + c);
  return truth;
}

std::vector<std::vector<int64_t>> caption_queries_truth(int64_t images, int64_t per_image) {
  std::vector<std::vector<int64_t>> truth(images * per_image);
  for (int64_t c = 0; c < images * per_image; ++c) truth[c] = {c / per_image};
  return truth;
}

std::vector<int64_t> evenly_spaced_ids(int64_t count, int64_t sample) {
  if (sample <= 0 || sample >= count) sample = count;
  std::vector<int64_t> ids(sample);
  for (int64_t j = 0; j < sample; ++j) ids[j] = j * count / sample;
  return ids;
}

}  // namespace sm
