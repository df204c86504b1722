#include <gtest/gtest.h>
#include <sys/stat.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>

#include "scenematch/core/error.h"
#include "scenematch/core/progress.h"
#include "scenematch/core/runtime.h"
#include "scenematch/eval/metrics.h"
#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"
#include "scenematch/synth/generator.h"
#include "scenematch/train/log.h"
#include "scenematch/train/run.h"
#include "scenematch/train/schedule.h"
#include "support/temp_dir.h"

using namespace sm;

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The tiny synthetic world (160/50/50 images, 36 regions x 64 features, 5
// captions each), generated once for the whole file.
class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = std::make_unique<sm::testing::TempDir>("sm_test_train");
    root_ = temp_->path();
    Progress::set_enabled(false);
    // The tiny world's matrices are small: one thread beats two, by far on a busy machine.
    set_threads(1);
    synth::SynthOptions options = synth::preset_options("tiny");
    options.seed = 7;
    synth::generate_dataset(root_ + "/world", options);
  }
  static void TearDownTestSuite() { temp_.reset(); }

  static TrainRequest request(const std::string& run, std::vector<std::string> overrides) {
    TrainRequest r;
    r.model = "vsepp";
    r.preset = "cpu";
    r.data_dir = root_ + "/world";
    r.out_dir = root_ + "/" + run;
    r.overrides = std::move(overrides);
    r.verbose = false;
    return r;
  }
  // `overrides` and "epochs=N".
  static std::vector<std::string> with_epochs(std::vector<std::string> overrides, int n) {
    overrides.push_back("epochs=" + std::to_string(n));
    return overrides;
  }

  static std::unique_ptr<sm::testing::TempDir> temp_;  // holds root_
  static std::string root_;
};
std::unique_ptr<sm::testing::TempDir> TrainTest::temp_;
std::string TrainTest::root_;

// R@K expected from random scores: t2i has one right image among N; i2t has
// five right captions among 5N.
double chance_rsum(int64_t images) {
  double sum = 0;
  for (int k : {1, 5, 10}) {
    double miss = 1;
    for (int i = 0; i < k; ++i) miss *= double(5 * images - 5 - i) / double(5 * images - i);
    sum += 100.0 * (1 - miss) + 100.0 * k / images;
  }
  return sum;
}

}  // namespace

TEST(Schedule, StepDecayAndEpochSeeds) {
  Config cfg = {{"lr", 2e-4}, {"lr_update", 15}, {"lr_decay", 0.1}};
  EXPECT_DOUBLE_EQ(learning_rate(cfg, 0), 2e-4);
  EXPECT_DOUBLE_EQ(learning_rate(cfg, 14), 2e-4);
  EXPECT_NEAR(learning_rate(cfg, 15), 2e-5, 1e-12);
  EXPECT_NEAR(learning_rate(cfg, 30), 2e-6, 1e-12);
  EXPECT_EQ(epoch_seed(1, 3), epoch_seed(1, 3));
  EXPECT_NE(epoch_seed(1, 3), epoch_seed(1, 4));
  EXPECT_NE(epoch_seed(1, 3), epoch_seed(2, 3));
}

TEST(Schedule, MilestonesDecayAtEachListedEpochAndOverrideTheStep) {
  Config cfg = {{"lr", 5e-4}, {"lr_update", 3}, {"lr_decay", 0.1}, {"lr_milestones", {15, 25}}};
  EXPECT_DOUBLE_EQ(learning_rate(cfg, 0), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(cfg, 14), 5e-4);  // lr_update = 3 would have decayed it
  EXPECT_NEAR(learning_rate(cfg, 15), 5e-5, 1e-15);
  EXPECT_NEAR(learning_rate(cfg, 24), 5e-5, 1e-15);
  EXPECT_NEAR(learning_rate(cfg, 25), 5e-6, 1e-15);
  EXPECT_NEAR(learning_rate(cfg, 29), 5e-6, 1e-15);
  cfg["lr_milestones"] = Json::array();
  EXPECT_DOUBLE_EQ(learning_rate(cfg, 29), 5e-4);
  cfg["lr_milestones"] = 15;
  EXPECT_THROW(learning_rate(cfg, 0), Error);
  cfg["lr_milestones"] = {15, "x"};
  EXPECT_THROW(learning_rate(cfg, 0), Error);
}

TEST_F(TrainTest, VseppLearnsTheTinyWorldWellAboveChance) {
  // The run folder's parent does not exist yet, as runs/ on a fresh checkout.
  const TrainRequest r = request("runs/vsepp", {"epochs=20", "embed_size=128", "lr=0.002", "lr_update=15"});
  TrainSummary s = run_training(r);
  ASSERT_EQ(s.epochs, 20);
  for (const char* f : {"best.ckpt", "last.ckpt", "log.jsonl", "vocab.json"})
    EXPECT_TRUE(exists(r.out_dir + "/" + f)) << f;
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    EXPECT_TRUE(exists(r.out_dir + "/curves.png"));
  }

  auto log = read_log_jsonl(r.out_dir + "/log.jsonl");
  ASSERT_EQ(log.size(), 20u);
  for (const char* key : {"epoch", "lr", "loss", "terms", "rsum", "i2t_r1", "t2i_r10", "seconds"})
    EXPECT_TRUE(log.back().contains(key)) << key;
  EXPECT_LT(log.back()["loss"].get<double>(), 0.5 * log.front()["loss"].get<double>());
  EXPECT_NEAR(log[16]["lr"].get<double>(), 0.1 * log[0]["lr"].get<double>(), 1e-12);

  // Evaluate the best checkpoint on the held-out test split, as `eval` does.
  CheckpointFile best = load_checkpoint(s.best_path, torch::kCPU);
  EXPECT_EQ(best.trainer_state["epoch"], s.best_epoch);
  auto test = load_eval_data(r.data_dir, "test", best.bundle.vocab, best.bundle.model->needs());
  SimilarityOptions quiet;
  quiet.progress = false;
  RecallMetrics m = recall_metrics(similarity_matrix(*best.bundle.model, *test->batcher, quiet), 5);
  const double chance = chance_rsum(test->split.num_images());
  std::printf("tiny world test split: rSum %.1f (chance %.1f), i2t R@1 %.1f, t2i R@1 %.1f, best dev rSum %.1f\n",
              m.rsum, chance, m.i2t_r1, m.t2i_r1, s.best_rsum);
  // 160 training images only: far from the small world's numbers, but far from chance.
  EXPECT_GT(m.rsum, 2 * chance);
  EXPECT_GT(m.t2i_r10, 2 * 1000.0 / test->split.num_images());
}

TEST_F(TrainTest, EveryLossTermOfTheModelIsLoggedPerEpoch) {
  // ALGR's first epoch is the ranking loss alone; its second adds the graph-VAE terms.
  TrainRequest r = request("algr-terms", {"epochs=2", "embed_size=32", "word_dim=16", "batch_size=64"});
  r.model = "algr";
  run_training(r);
  auto log = read_log_jsonl(r.out_dir + "/log.jsonl");
  ASSERT_EQ(log.size(), 2u);
  const Json &phase1 = log[0]["terms"], &phase2 = log[1]["terms"];
  EXPECT_EQ(phase1.at("lambda").get<double>(), 0.0);
  EXPECT_FALSE(phase1.contains("recon_v"));
  for (const char* term : {"rank", "wd", "recon_v", "recon_t", "kl_v", "kl_t", "lambda"}) {
    ASSERT_TRUE(phase2.contains(term)) << term;
    EXPECT_TRUE(std::isfinite(phase2[term].get<double>())) << term;
    EXPECT_GT(phase2[term].get<double>(), 0.0) << term;
    EXPECT_NE(format_terms(log[1]).find(cat(term, " ")), std::string::npos) << term;
  }
  EXPECT_EQ(format_terms(Json::object()), "");
}

// hard_negative_from_epoch=2: the first epoch trains without the term, the
// second with it.
TEST_F(TrainTest, HardNegativesJoinAtTheirEpoch) {
  TrainRequest r = request("hardneg-from-2", {"epochs=2", "embed_size=32", "word_dim=16", "batch_size=64",
                                              "hard_negatives=true", "hard_negative_from_epoch=2"});
  run_training(r);
  auto log = read_log_jsonl(r.out_dir + "/log.jsonl");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_FALSE(log[0]["terms"].contains("hard_negatives"));
  ASSERT_TRUE(log[1]["terms"].contains("hard_negatives"));
  EXPECT_GT(log[1]["terms"]["hard_negatives"].get<double>(), 0.0);
  r.out_dir += "-bad";
  r.overrides.back() = "hard_negative_from_epoch=0";
  EXPECT_THROW(run_training(r), Error);
}

TEST_F(TrainTest, ResumeContinuesWithIdenticalLosses) {
  const std::vector<std::string> small = {"embed_size=64", "word_dim=32", "batch_size=64", "lr_update=1",
                                          "lr_decay=0.5"};
  run_training(request("straight", with_epochs(small, 3)));
  run_training(request("stopped", with_epochs(small, 1)));
  EXPECT_THROW(run_training(request("stopped", with_epochs(small, 3))), Error);  // no --resume: refuses to overwrite
  TrainRequest again = request("stopped", with_epochs(small, 3));
  again.resume = true;
  auto wrong = again;
  wrong.overrides.push_back("embed_size=32");
  EXPECT_THROW(run_training(wrong), Error);  // the architecture cannot change on resume
  run_training(again);

  auto a = read_log_jsonl(root_ + "/straight/log.jsonl"), b = read_log_jsonl(root_ + "/stopped/log.jsonl");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_NEAR(a[e]["loss"].get<double>(), b[e]["loss"].get<double>(), 1e-6) << "epoch " << e + 1;
    EXPECT_NEAR(a[e]["rsum"].get<double>(), b[e]["rsum"].get<double>(), 1e-6) << "epoch " << e + 1;
    EXPECT_DOUBLE_EQ(a[e]["lr"].get<double>(), b[e]["lr"].get<double>());
  }
  // Different seeds do give different losses, so the comparison above has teeth.
  auto other = with_epochs(small, 1);
  other.push_back("seed=5");
  run_training(request("other-seed", other));
  EXPECT_GT(
      std::abs(read_log_jsonl(root_ + "/other-seed/log.jsonl")[0]["loss"].get<double>() - a[0]["loss"].get<double>()),
      1e-4);
}

TEST_F(TrainTest, ResumeWithGroupedCaptionsContinuesExactly) {
  // Batches of two captions an image (Batcher::epoch): drawn from (seed, epoch)
  // alone, so a resumed run sees the batches of a straight one.
  const std::vector<std::string> grouped = {"embed_size=64", "word_dim=32", "batch_size=64", "captions_per_image=2"};
  run_training(request("grouped-straight", with_epochs(grouped, 2)));
  run_training(request("grouped-stopped", with_epochs(grouped, 1)));
  TrainRequest again = request("grouped-stopped", with_epochs(grouped, 2));
  again.resume = true;
  run_training(again);
  auto a = read_log_jsonl(root_ + "/grouped-straight/log.jsonl");
  auto b = read_log_jsonl(root_ + "/grouped-stopped/log.jsonl");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_NEAR(a[1]["loss"].get<double>(), b[1]["loss"].get<double>(), 1e-6);
  EXPECT_NEAR(a[1]["rsum"].get<double>(), b[1]["rsum"].get<double>(), 1e-6);
  // Grouping changes the batches (and so the loss) of the same seed.
  auto ungrouped = with_epochs(grouped, 1);
  ungrouped[3] = "captions_per_image=1";
  run_training(request("ungrouped", ungrouped));
  EXPECT_GT(
      std::abs(read_log_jsonl(root_ + "/ungrouped/log.jsonl")[0]["loss"].get<double>() - a[0]["loss"].get<double>()),
      1e-4);
}
