// Distributed training and evaluation over loopback: two processes started by
// `scenematch launch`, each with half the batch, against one process with the
// whole batch.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "scenematch/core/process_group.h"
#include "scenematch/data/npy.h"
#include "scenematch/models/checkpoint.h"
#include "scenematch/synth/generator.h"
#include "scenematch/train/log.h"
#include "support/eval_fixture.h"
#include "support/temp_dir.h"

using namespace sm;
using sm::testing::CliResult;
using sm::testing::run_cli;

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Parameters the ranking loss cannot see: GSMN's score heads end in a bias
// added to every pair's score, and the loss depends on score differences
// only. Their gradient is rounding noise, which Adam scales to steps of the
// learning rate's size, so two summation orders move them apart.
bool loss_invariant(const std::string& name) { return name == "text_head.fc2.bias" || name == "visual_head.fc2.bias"; }

// Every parameter of two checkpoints the loss depends on, to `tolerance`.
void expect_same_parameters(const std::string& a, const std::string& b, double tolerance) {
  const auto pa = load_checkpoint(a, torch::kCPU).bundle.model->named_parameters();
  const auto pb = load_checkpoint(b, torch::kCPU).bundle.model->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) {
    if (loss_invariant(item.key())) continue;
    const torch::Tensor diff = (item.value() - pb[item.key()]).abs().max();
    EXPECT_LE(diff.item<double>(), tolerance) << item.key() << " of " << a << " and " << b;
  }
}

// Every number of every epoch's log line except the timings.
void expect_same_logs(const std::string& a, const std::string& b, double tolerance) {
  const auto la = read_log_jsonl(a), lb = read_log_jsonl(b);
  ASSERT_EQ(la.size(), lb.size());
  for (size_t e = 0; e < la.size(); ++e) {
    Json fa = la[e].flatten(), fb = lb[e].flatten();
    for (const auto& [key, value] : fa.items()) {
      if (key.find("seconds") != std::string::npos) continue;
      ASSERT_TRUE(fb.contains(key)) << key << " missing in " << b;
      if (value.is_number())
        EXPECT_NEAR(value.get<double>(), fb[key].get<double>(),
                    tolerance * std::max(1.0, std::abs(value.get<double>())))
            << key << " at epoch " << e + 1;
      else
        EXPECT_EQ(value, fb[key]) << key << " at epoch " << e + 1;
    }
  }
}

// Starts `scenematch ARGS` with stderr to `err_path`; returns its pid.
pid_t spawn_cli(const std::vector<std::string>& args, const std::string& err_path) {
  std::vector<std::string> all = {SCENEMATCH_CLI};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(err, 2);
    ::dup2(null, 1);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  return pid;
}

// The pid the launcher reports for `rank` in its stderr, once it has.
pid_t rank_pid(const std::string& err_path, int rank) {
  const std::string text = read_file(err_path), key = cat("launch: rank ", rank, " is pid ");
  const size_t at = text.find(key);
  return at == std::string::npos ? 0 : std::atoi(text.c_str() + at + key.size());
}

// A tiny world of 8 training images (40 captions): a global batch of 40 is
// one step per epoch, so every step's loss is a line of log.jsonl.
class DistributedTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    temp_ = std::make_unique<sm::testing::TempDir>("sm_test_dist");
    synth::SynthOptions options = synth::preset_options("tiny");
    options.seed = 7;
    options.train = 8;
    options.dev = 6;
    options.test = 6;
    synth::generate_dataset(world(), options);
  }
  static void TearDownTestSuite() { temp_.reset(); }
  static std::string world() { return temp_->path() + "/world"; }
  std::string run_dir(const std::string& name) const { return temp_->path() + "/" + GetParam() + "-" + name; }

  // `scenematch train` of this test's model for `epochs` with `batch` per
  // rank, as `nproc` processes (1: without the launcher).
  CliResult train(const std::string& run, int epochs, int batch, int nproc, const std::string& extra = "") const {
    const std::string args =
        cat("train --model ", GetParam(), " --preset cpu --data ", world(), " --out ", run_dir(run), " --epochs ",
            epochs, " --batch-size ", batch, " --threads 1 --quiet ", extra);
    return run_cli(nproc == 1 ? args : cat("launch --nproc ", nproc, " -- ", args));
  }

  static std::unique_ptr<sm::testing::TempDir> temp_;
};
std::unique_ptr<sm::testing::TempDir> DistributedTest::temp_;

// The first two epochs sum over every negative, the third keeps the hardest.
constexpr const char* kWarmup = "--set sum_violation_epochs=2";

TEST_P(DistributedTest, TwoRanksTrainAsOneProcessWithTheGlobalBatch) {
  ASSERT_EQ(train("one", 3, 40, 1, kWarmup).status, 0);
  const CliResult two = train("two", 3, 20, 2, kWarmup);
  ASSERT_EQ(two.status, 0) << two.err;
  expect_same_logs(run_dir("one") + "/log.jsonl", run_dir("two") + "/log.jsonl", 1e-5);
  expect_same_parameters(run_dir("one") + "/last.ckpt", run_dir("two") + "/last.ckpt", 1e-5);

  // Resumed at another world size and back, the run is still the same one.
  ASSERT_EQ(train("resumed", 1, 20, 2, kWarmup).status, 0);
  ASSERT_EQ(
      run_cli(cat("train --data ", world(), " --out ", run_dir("resumed"), " --resume --epochs 2 --threads 1 --quiet"))
          .status,
      0);
  const CliResult resumed = run_cli(cat("launch --nproc 2 -- train --data ", world(), " --out ", run_dir("resumed"),
                                        " --resume --epochs 3 --threads 1 --quiet"));
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  expect_same_logs(run_dir("one") + "/log.jsonl", run_dir("resumed") + "/log.jsonl", 1e-5);
  expect_same_parameters(run_dir("one") + "/last.ckpt", run_dir("resumed") + "/last.ckpt", 1e-5);

  // A run with half the global batch takes other steps, so the checks above can fail.
  ASSERT_EQ(train("half", 1, 20, 1, kWarmup).status, 0);
  EXPECT_GT(std::abs(read_log_jsonl(run_dir("half") + "/log.jsonl")[0]["loss"].get<double>() -
                     read_log_jsonl(run_dir("one") + "/log.jsonl")[0]["loss"].get<double>()),
            1e-3);

  // Evaluation split over two ranks gives one process's similarity matrix.
  const std::string eval = cat("eval --checkpoint ", run_dir("one"), "/last.ckpt --data ", world(),
                               " --split dev --threads 1 --quiet --save-sims ");
  ASSERT_EQ(run_cli(eval + run_dir("sims1.npy")).status, 0);
  const CliResult eval2 = run_cli("launch --nproc 2 -- " + eval + run_dir("sims2.npy"));
  ASSERT_EQ(eval2.status, 0) << eval2.err;
  const NpyArray s1 = NpyArray::open(run_dir("sims1.npy")), s2 = NpyArray::open(run_dir("sims2.npy"));
  ASSERT_EQ(s1.shape(), s2.shape());
  EXPECT_TRUE(torch::allclose(s1.rows(0, s1.rows()), s2.rows(0, s2.rows()), 1e-5, 1e-6));

  // So do the probes, split over two ranks, with and without the image.
  const std::string probe = cat("probe --checkpoint ", run_dir("one"), "/last.ckpt --data ", world(),
                                " --split dev --blind --threads 1 --quiet --json");
  const CliResult probe1 = run_cli(probe), probe2 = run_cli("launch --nproc 2 -- " + probe);
  ASSERT_EQ(probe1.status, 0) << probe1.err;
  ASSERT_EQ(probe2.status, 0) << probe2.err;
  const Json report1 = Json::parse(probe1.out), report2 = Json::parse(probe2.out);
  EXPECT_GT(report1["all"]["count"].get<int64_t>(), 2) << "too few probes to split";
  EXPECT_EQ(report1, report2);
}

// The hard-negative term (train/hard_negative_loss.h) splits over the ranks
// as well: each scores its shard of the captions' negatives.
TEST_P(DistributedTest, HardNegativesTrainAsOneProcessWithTheGlobalBatch) {
  const std::string hard = cat(kWarmup, " --set hard_negatives=true");
  ASSERT_EQ(train("hard-one", 2, 40, 1, hard).status, 0);
  const CliResult two = train("hard-two", 2, 20, 2, hard);
  ASSERT_EQ(two.status, 0) << two.err;
  const auto log = read_log_jsonl(run_dir("hard-one") + "/log.jsonl");
  ASSERT_TRUE(log[0]["terms"].contains("hard_negatives"));
  EXPECT_GT(log[0]["terms"]["hard_negatives"].get<double>(), 0) << "no negative drawn, or none inside the margin";
  expect_same_logs(run_dir("hard-one") + "/log.jsonl", run_dir("hard-two") + "/log.jsonl", 1e-5);
  // The summation order of the extra term moves GSMN's GRU weights by up to
  // 1.8e-5 (Adam scales near-zero gradients to steps of the learning rate's
  // size); every rank adding the whole term instead moves them by 2e-3.
  expect_same_parameters(run_dir("hard-one") + "/last.ckpt", run_dir("hard-two") + "/last.ckpt", 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Models, DistributedTest, ::testing::Values("vsepp", "gsmn"));

// A rank that dies, or hangs (stopped), mid-run ends the job with a non-zero
// exit within the collective timeout, and the last checkpoint stays whole.
class RankFailure : public DistributedTest {};

TEST_P(RankFailure, EndsTheJob) {
  const std::string err = temp_->path() + "/launch-" + GetParam() + ".err", run = run_dir("failing");
  const pid_t launcher = spawn_cli(
      {"launch",         "--nproc", "2", "--",       "train", "--model",      "vsepp", "--preset",  "cpu", "--data",
       world(),          "--out",   run, "--epochs", "1000",  "--batch-size", "20",    "--threads", "1",   "--quiet",
       "--dist-timeout", "10"},
      err);
  ASSERT_GT(launcher, 0);
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  while (!exists(run + "/log.jsonl") && seconds() < 120) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const pid_t victim = rank_pid(err, 1);
  ASSERT_GT(victim, 0) << read_file(err);
  ::kill(victim, GetParam() == "killed" ? SIGKILL : SIGSTOP);

  int status = 0;
  const double deadline = seconds() + 60;
  while (::waitpid(launcher, &status, WNOHANG) == 0 && seconds() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (seconds() >= deadline) {
    ::kill(launcher, SIGKILL);
    ::waitpid(launcher, &status, 0);
    FAIL() << "the job did not end within 60 s of rank 1 being " << GetParam() << "; stderr:\n" << read_file(err);
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  const std::string text = read_file(err);
  // Killed: the launcher names rank 1. Hung: rank 0's collective times out and names itself.
  EXPECT_NE(text.find(GetParam() == "killed" ? "rank 1 was killed" : "rank 0 of 2"), std::string::npos) << text;
  EXPECT_NO_THROW(load_checkpoint(run + "/last.ckpt", torch::kCPU));
}

INSTANTIATE_TEST_SUITE_P(Signals, RankFailure, ::testing::Values("killed", "stopped"));

// Two ranks as two threads of this process. Each rank's loss weighs the
// parameters by rank + 1, so summed gradients are 3x the rank-0 ones. The
// parameters span two buckets (float64, and float32 with a parameter that
// gets no gradient, so that bucket can only start in finish()); the second
// step uses one parameter only; after the reducer is gone, backward gives
// local gradients again.
TEST(GradientReducer, SumsOverRanksWhileBackwardRuns) {
  const int port = free_loopback_port();
  std::vector<std::vector<torch::Tensor>> grads(2);
  std::vector<std::string> errors(2);
  auto rank = [&](int r) {
    try {
      ProcessGroupSpec spec;
      spec.rank = r, spec.world_size = 2, spec.master_port = port, spec.timeout_seconds = 30;
      ProcessGroupContext group(spec);
      torch::Tensor small = torch::arange(4, torch::kFloat).requires_grad_(),
                    big = torch::zeros({300000}).requires_grad_(), unused = torch::ones({3}).requires_grad_(),
                    dbl = torch::ones({2}, torch::kDouble).requires_grad_();
      const double w = r + 1;
      {
        GradientReducer reducer(group, {small, big, unused, dbl});
        ((big * w).sum() + (small * small * w).sum() + (dbl * w).sum().to(torch::kFloat)).backward();
        reducer.finish();
        grads[r] = {small.grad().clone(), big.grad().clone(), dbl.grad().clone()};
        grads[r].push_back(torch::tensor({unused.grad().defined() ? 1.0f : 0.0f}));
        for (torch::Tensor* p : {&small, &big, &dbl}) p->mutable_grad().reset();
        (small * w).sum().backward();
        reducer.finish();
        grads[r].push_back(small.grad().clone());
        grads[r].push_back(torch::tensor({big.grad().defined() ? 1.0f : 0.0f}));
        small.mutable_grad().reset();
      }
      (small * w).sum().backward();
      grads[r].push_back(small.grad().clone());
    } catch (const std::exception& e) {
      errors[r] = e.what();
    }
  };
  std::thread rank1(rank, 1);
  rank(0);
  rank1.join();
  ASSERT_EQ(errors[0] + errors[1], "");
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE(r);
    ASSERT_EQ(grads[r].size(), 7u);
    EXPECT_TRUE(torch::equal(grads[r][0], torch::arange(4, torch::kFloat) * 2 * 3));  // d(w s^2) = 2 w s
    EXPECT_TRUE(torch::equal(grads[r][1], torch::full({300000}, 3.0f)));
    EXPECT_TRUE(torch::equal(grads[r][2], torch::full({2}, 3.0, torch::kDouble)));
    EXPECT_EQ(grads[r][3].item<float>(), 0) << "a parameter without a gradient got one";
    EXPECT_TRUE(torch::equal(grads[r][4], torch::full({4}, 3.0f)));
    EXPECT_EQ(grads[r][5].item<float>(), 0);
    EXPECT_TRUE(torch::equal(grads[r][6], torch::full({4}, r + 1.0f))) << "hooks outlived the reducer";
  }
}

}  // namespace
