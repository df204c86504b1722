#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "scenematch/eval/metrics.h"

using namespace sm;

namespace {

// Independent reference: sort each row/column with ground truths placed after
// wrong items of equal score (ties against the query), then read positions.
std::vector<int64_t> reference_ranks(const torch::Tensor& sims, int64_t per_image, bool i2t) {
  torch::Tensor s = i2t ? sims : sims.t();
  auto a = s.accessor<float, 2>();
  std::vector<int64_t> ranks;
  for (int64_t q = 0; q < s.size(0); ++q) {
    auto is_gt = [&](int64_t item) { return i2t ? item / per_image == q : q / per_image == item; };
    std::vector<int64_t> order(s.size(1));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
      if (a[q][x] != a[q][y]) return a[q][x] > a[q][y];
      return !is_gt(x) && is_gt(y);
    });
    for (int64_t pos = 0; pos < static_cast<int64_t>(order.size()); ++pos)
      if (is_gt(order[pos])) {
        ranks.push_back(pos);
        break;
      }
  }
  return ranks;
}

double reference_recall(const std::vector<int64_t>& ranks, int64_t k) {
  return 100.0 * std::count_if(ranks.begin(), ranks.end(), [k](int64_t r) { return r < k; }) / ranks.size();
}

void expect_same(const RecallMetrics& a, const RecallMetrics& b, double tol = 1e-9) {
  EXPECT_NEAR(a.i2t_r1, b.i2t_r1, tol);
  EXPECT_NEAR(a.i2t_r5, b.i2t_r5, tol);
  EXPECT_NEAR(a.i2t_r10, b.i2t_r10, tol);
  EXPECT_NEAR(a.t2i_r1, b.t2i_r1, tol);
  EXPECT_NEAR(a.t2i_r5, b.t2i_r5, tol);
  EXPECT_NEAR(a.t2i_r10, b.t2i_r10, tol);
  EXPECT_NEAR(a.rsum, b.rsum, tol);
  EXPECT_NEAR(a.i2t_medr, b.i2t_medr, tol);
  EXPECT_NEAR(a.i2t_meanr, b.i2t_meanr, tol);
  EXPECT_NEAR(a.t2i_medr, b.t2i_medr, tol);
  EXPECT_NEAR(a.t2i_meanr, b.t2i_meanr, tol);
}

}  // namespace

TEST(RecallMetrics, OneCaptionPerImageWithTies) {
  auto sims = torch::tensor({{0.9, 0.5, 0.1},    // image 0: nothing beats its 0.9 -> rank 0
                             {0.8, 0.6, 0.7},    // image 1: 0.8 and 0.7 beat 0.6 -> rank 2
                             {0.3, 0.3, 0.3}});  // image 2: two wrong captions tie its 0.3 -> rank 2
  // i2t ranks {0, 2, 2}: R@1 1/3, R@5 = R@10 = 1; median 2 -> medr 3; mean 4/3 -> meanr 7/3.
  // t2i: caption 0 column {0.9, 0.8, 0.3} -> 0; caption 1 {0.5, 0.6, 0.3} -> 0;
  //      caption 2 {0.1, 0.7, 0.3} -> 1 (image 1). Ranks {0, 0, 1}: R@1 2/3; medr 1; meanr 4/3.
  RecallMetrics m = recall_metrics(sims, 1);
  EXPECT_NEAR(m.i2t_r1, 100.0 / 3, 1e-9);
  EXPECT_NEAR(m.i2t_r5, 100.0, 1e-9);
  EXPECT_NEAR(m.i2t_r10, 100.0, 1e-9);
  EXPECT_NEAR(m.t2i_r1, 200.0 / 3, 1e-9);
  EXPECT_NEAR(m.t2i_r5, 100.0, 1e-9);
  EXPECT_NEAR(m.i2t_medr, 3.0, 1e-9);
  EXPECT_NEAR(m.i2t_meanr, 7.0 / 3, 1e-9);
  EXPECT_NEAR(m.t2i_medr, 1.0, 1e-9);
  EXPECT_NEAR(m.t2i_meanr, 4.0 / 3, 1e-9);
  EXPECT_NEAR(m.rsum, 100.0 / 3 + 200 + 200.0 / 3 + 200, 1e-9);
}

TEST(RecallMetrics, FiveCaptionsPerImageBestCaptionCounts) {
  // Image 0 owns captions 0-4, image 1 owns 5-9.
  auto sims = torch::tensor(
      {{0.2, 0.5, 0.1, 0.5, 0.5, 0.6, 0.5, 0.4, 0.1, 0.0}, {0.9, 0.8, 0.7, 0.6, 0.5, 0.1, 0.2, 0.3, 0.4, 0.45}});
  // i2t: image 0's best caption scores 0.5 (three ground truths tie there); wrong
  //   captions 5 (0.6) and 6 (0.5, tied) rank before it -> rank 2.
  //   image 1's best is 0.45; all five wrong captions (0.5..0.9) are higher -> rank 5.
  //   Ranks {2, 5}: R@1 0, R@5 50, R@10 100; median 3.5 -> medr 4; meanr 4.5.
  // t2i: captions 0-4 (image 0: .2 .5 .1 .5 .5 vs image 1: .9 .8 .7 .6 .5) all rank 1
  //   (caption 4 by a tie); captions 5-7 (image 1: .1 .2 .3 vs image 0: .6 .5 .4) rank 1;
  //   captions 8, 9 (.4, .45 vs .1, 0) rank 0. Ranks: eight 1s, two 0s:
  //   R@1 20, R@5 100; median 1 -> medr 2; meanr 1.8.
  RecallMetrics m = recall_metrics(sims, 5);
  EXPECT_NEAR(m.i2t_r1, 0.0, 1e-9);
  EXPECT_NEAR(m.i2t_r5, 50.0, 1e-9);
  EXPECT_NEAR(m.i2t_r10, 100.0, 1e-9);
  EXPECT_NEAR(m.i2t_medr, 4.0, 1e-9);
  EXPECT_NEAR(m.i2t_meanr, 4.5, 1e-9);
  EXPECT_NEAR(m.t2i_r1, 20.0, 1e-9);
  EXPECT_NEAR(m.t2i_r5, 100.0, 1e-9);
  EXPECT_NEAR(m.t2i_medr, 2.0, 1e-9);
  EXPECT_NEAR(m.t2i_meanr, 1.8, 1e-6);
}

TEST(RecallMetrics, RanksSpreadAcrossCutoffs) {
  // 12 images, 1 caption each. Image i scores 0.5 with its caption and 1.0 with
  // the i captions after it (cyclically), so its i2t rank is exactly i.
  // Ranks 0..11: R@1 1/12, R@5 5/12, R@10 10/12; median 5.5 -> medr 6; meanr 6.5.
  const int64_t n = 12;
  auto sims = torch::zeros({n, n});
  for (int64_t i = 0; i < n; ++i) {
    sims[i][i] = 0.5;
    for (int64_t k = 1; k <= i; ++k) sims[i][(i + k) % n] = 1.0;
  }
  RecallMetrics m = recall_metrics(sims, 1);
  EXPECT_NEAR(m.i2t_r1, 100.0 / 12, 1e-9);
  EXPECT_NEAR(m.i2t_r5, 500.0 / 12, 1e-9);
  EXPECT_NEAR(m.i2t_r10, 1000.0 / 12, 1e-9);
  EXPECT_NEAR(m.i2t_medr, 6.0, 1e-9);
  EXPECT_NEAR(m.i2t_meanr, 6.5, 1e-9);
  // With one caption per image, t2i of the transpose is i2t of the original.
  RecallMetrics t = recall_metrics(sims.t(), 1);
  EXPECT_NEAR(t.t2i_r1, m.i2t_r1, 1e-9);
  EXPECT_NEAR(t.t2i_r10, m.i2t_r10, 1e-9);
  EXPECT_NEAR(t.t2i_medr, m.i2t_medr, 1e-9);
  EXPECT_NEAR(t.t2i_meanr, m.i2t_meanr, 1e-9);
}

TEST(RecallMetrics, MatchesSortingReferenceWithManyTies) {
  torch::manual_seed(3);
  for (int64_t per_image : {1, 5}) {
    const int64_t ni = 37;
    // Integer scores in 0..5 make ties the rule, not the exception.
    auto sims = torch::randint(0, 6, {ni, ni * per_image}).to(torch::kFloat);
    RecallMetrics m = recall_metrics(sims, per_image);
    auto i2t = reference_ranks(sims, per_image, true), t2i = reference_ranks(sims, per_image, false);
    EXPECT_NEAR(m.i2t_r1, reference_recall(i2t, 1), 1e-9) << per_image;
    EXPECT_NEAR(m.i2t_r5, reference_recall(i2t, 5), 1e-9) << per_image;
    EXPECT_NEAR(m.i2t_r10, reference_recall(i2t, 10), 1e-9) << per_image;
    EXPECT_NEAR(m.t2i_r1, reference_recall(t2i, 1), 1e-9) << per_image;
    EXPECT_NEAR(m.t2i_r5, reference_recall(t2i, 5), 1e-9) << per_image;
    EXPECT_NEAR(m.t2i_r10, reference_recall(t2i, 10), 1e-9) << per_image;
    double mean = std::accumulate(t2i.begin(), t2i.end(), 0.0) / t2i.size();
    EXPECT_NEAR(m.t2i_meanr, mean + 1, 1e-9) << per_image;
  }
}

TEST(RecallMetrics, PerfectAndWorstMatrices) {
  RecallMetrics best = recall_metrics(torch::eye(20) + 0.1, 1);
  EXPECT_DOUBLE_EQ(best.rsum, 600.0);
  EXPECT_DOUBLE_EQ(best.i2t_medr, 1.0);
  // Constant scores: every query ties with all wrong items and ranks last.
  RecallMetrics worst = recall_metrics(torch::ones({20, 20}), 1);
  EXPECT_DOUBLE_EQ(worst.rsum, 0.0);
  EXPECT_DOUBLE_EQ(worst.i2t_medr, 20.0);
  EXPECT_DOUBLE_EQ(worst.t2i_meanr, 20.0);
}

TEST(RecallMetrics, RejectsBadInput) {
  EXPECT_THROW(recall_metrics(torch::zeros({3, 7}), 5), Error);
  EXPECT_THROW(recall_metrics(torch::zeros({3}), 1), Error);
  auto nan = torch::eye(3);
  nan[1][2] = std::nan("");
  try {
    recall_metrics(nan, 1);
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN at image 1, caption 2"), std::string::npos) << e.what();
  }
}

TEST(EvaluateProtocol, FiveFoldAveragesFolds) {
  torch::manual_seed(7);
  const int64_t ni = 5000, per_image = 2, fold = 1000;
  auto sims = torch::randn({ni, ni * per_image});
  // A different ground-truth boost per fold, so the folds' recalls differ.
  auto ground_truth = sims.view({ni, ni, per_image}).diagonal(0, 0, 1);  // (per_image, ni)
  ground_truth += 0.6 * torch::arange(ni).div(fold, "floor").to(torch::kFloat);
  RecallMetrics expected;
  std::vector<RecallMetrics> folds;
  for (int64_t f = 0; f < 5; ++f)
    folds.push_back(recall_metrics(
        sims.slice(0, f * fold, (f + 1) * fold).slice(1, f * fold * per_image, (f + 1) * fold * per_image), per_image));
  auto mean = [&](double RecallMetrics::*field) {
    double s = 0;
    for (const auto& m : folds) s += m.*field;
    return s / 5;
  };
  for (auto field : {&RecallMetrics::i2t_r1, &RecallMetrics::i2t_r5, &RecallMetrics::i2t_r10, &RecallMetrics::t2i_r1,
                     &RecallMetrics::t2i_r5, &RecallMetrics::t2i_r10, &RecallMetrics::rsum, &RecallMetrics::i2t_medr,
                     &RecallMetrics::i2t_meanr, &RecallMetrics::t2i_medr, &RecallMetrics::t2i_meanr})
    expected.*field = mean(field);
  EXPECT_GT(folds[4].t2i_r1, folds[0].t2i_r1 + 10);  // the folds really differ
  expect_same(evaluate_protocol(sims, per_image, "5fold"), expected, 1e-6);
  // 1k and 5k rank against the whole matrix: harder than within a fold.
  RecallMetrics whole = evaluate_protocol(sims, per_image, "5k");
  expect_same(whole, recall_metrics(sims, per_image));
  EXPECT_LT(whole.t2i_r1, expected.t2i_r1);
}

TEST(EvaluateProtocol, Errors) {
  try {
    evaluate_protocol(torch::eye(1000), 1, "5fold");
    FAIL() << "5fold on 1000 images accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("5000 images"), std::string::npos) << e.what();
  }
  EXPECT_THROW(evaluate_protocol(torch::eye(10), 1, "10k"), Error);
}

TEST(RecallMetrics, TableAndJson) {
  auto sims = torch::tensor({{0.9, 0.5, 0.1}, {0.8, 0.6, 0.7}, {0.3, 0.3, 0.3}});
  RecallMetrics m = recall_metrics(sims, 1);
  std::string table = format_recall_table(m, "toy test");
  EXPECT_EQ(table.rfind("toy test", 0), 0u);
  EXPECT_NE(table.find("image-to-text"), std::string::npos);
  EXPECT_NE(table.find("33.33"), std::string::npos);  // i2t R@1
  EXPECT_NE(table.find("66.67"), std::string::npos);  // t2i R@1
  Json j = m.to_json();
  for (const char* key : {"i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "rsum", "i2t_medr", "i2t_meanr",
                          "t2i_medr", "t2i_meanr"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_DOUBLE_EQ(j["t2i_r1"].get<double>(), m.t2i_r1);
}
