// `scenematch train` killed with SIGKILL at random moments (one of them while
// a checkpoint is being written) and resumed with --resume ends with the very
// parameters and log of a run never interrupted, and every checkpoint on disk
// stays readable after every kill.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "scenematch/core/progress.h"
#include "scenematch/models/checkpoint.h"
#include "scenematch/synth/generator.h"
#include "scenematch/train/log.h"
#include "support/temp_dir.h"

using namespace sm;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kEpochs = "6";

// `scenematch train` into `out`, as a child process that is not waited for.
pid_t start_training(const std::string& data, const std::string& out, bool resume) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string log = out + ".stderr";
    if (!std::freopen(log.c_str(), "a", stderr) || !std::freopen("/dev/null", "w", stdout)) ::_exit(126);
    std::vector<const char*> args = {SCENEMATCH_CLI, "train", "--model",   "vsepp",    "--data",
                                     data.c_str(),   "--out", out.c_str(), "--epochs", kEpochs,
                                     "--threads",    "1",     "--quiet"};
    if (resume) args.push_back("--resume");
    args.push_back(nullptr);
    ::execv(SCENEMATCH_CLI, const_cast<char* const*>(args.data()));
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// A temporary file of write_file_atomic in `dir` (a write under way), if any.
bool writing(const std::string& dir) {
  std::error_code ignored;
  for (const auto& e : fs::directory_iterator(dir, ignored))
    if (e.path().filename().string().find(".ckpt.tmp.") != std::string::npos) return true;
  return false;
}

// Every *.ckpt in `dir` loads completely (checksum, header, weights).
void expect_checkpoints_readable(const std::string& dir, const std::string& when) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".ckpt") continue;
    EXPECT_NO_THROW(load_checkpoint(e.path().string(), torch::kCPU)) << e.path() << " " << when;
  }
}

// The log without its wall-clock fields.
std::vector<Json> log_records(const std::string& dir) {
  std::vector<Json> records = read_log_jsonl(dir + "/log.jsonl");
  for (Json& r : records) {
    r.erase("seconds");
    r.erase("val_seconds");
  }
  return records;
}

void expect_same_parameters(const std::string& expected_ckpt, const std::string& actual_ckpt) {
  const CheckpointFile expected = load_checkpoint(expected_ckpt, torch::kCPU);
  const CheckpointFile actual = load_checkpoint(actual_ckpt, torch::kCPU);
  const auto want = expected.bundle.model->named_parameters();
  const auto got = actual.bundle.model->named_parameters();
  ASSERT_EQ(want.size(), got.size());
  for (const auto& p : want) {
    ASSERT_TRUE(got.contains(p.key())) << p.key();
    EXPECT_TRUE(torch::equal(p.value(), got[p.key()])) << p.key() << " differs from the uninterrupted run";
  }
  EXPECT_EQ(expected.trainer_state["global_step"], actual.trainer_state["global_step"]);
}

// A tiny world and the uninterrupted run every trial is compared with.
class KillResume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = std::make_unique<sm::testing::TempDir>("sm_test_kill_resume");
    root_ = temp_->path();
    data_ = root_ + "/world";
    reference_ = root_ + "/reference";
    synth::SynthOptions world = synth::preset_options("tiny");
    world.train = 40;
    world.dev = 10;
    world.test = 10;
    world.seed = 3;
    Progress::set_enabled(false);
    synth::generate_dataset(data_, world);
    const auto start = Clock::now();
    reference_exit_ = wait_exit(start_training(data_, reference_, false));
    run_ms_ = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }
  static void TearDownTestSuite() { temp_.reset(); }
  void SetUp() override { ASSERT_EQ(reference_exit_, 0) << "see " << reference_ << ".stderr"; }

  static std::unique_ptr<sm::testing::TempDir> temp_;
  static std::string root_, data_, reference_;
  static int reference_exit_;
  static double run_ms_;
};
std::unique_ptr<sm::testing::TempDir> KillResume::temp_;
std::string KillResume::root_, KillResume::data_, KillResume::reference_;
int KillResume::reference_exit_ = -1;
double KillResume::run_ms_ = 0;

}  // namespace

// A kill after the last epoch's last.ckpt but before its log.jsonl leaves a
// log one epoch short; resuming (nothing left to train) must still write it.
TEST_F(KillResume, ResumeAfterTheLastCheckpointRewritesAShortLog) {
  const std::string out = root_ + "/short_log";
  fs::copy(reference_, out);
  std::vector<Json> records = read_log_jsonl(out + "/log.jsonl");
  records.pop_back();
  write_log_jsonl(out + "/log.jsonl", records);
  ASSERT_EQ(wait_exit(start_training(data_, out, true)), 0) << "see " << out << ".stderr";
  EXPECT_EQ(read_log_jsonl(reference_ + "/log.jsonl"), read_log_jsonl(out + "/log.jsonl"));
}

TEST_F(KillResume, SigkilledTrainingResumesToTheUninterruptedResult) {
  const std::string &data = data_, &reference = reference_, &root = root_;
  const double run_ms = run_ms_;

  // Kills at random moments of a run (seeded, so a failure repeats), then the
  // trial that waits for a checkpoint's temporary file and kills mid-write.
  std::mt19937_64 rng(20);
  std::uniform_real_distribution<double> moment(0.05, 0.95);
  const int kRandomTrials = 3;
  bool killed_mid_write = false;
  for (int trial = 0; trial <= kRandomTrials; ++trial) {
    const bool mid_write = trial == kRandomTrials;
    const std::string out = cat(root, "/trial", trial);
    const pid_t pid = start_training(data, out, false);
    const auto deadline = Clock::now() + std::chrono::duration<double, std::milli>(moment(rng) * run_ms);
    bool finished = false;
    while (!finished) {
      if (mid_write ? writing(out) : Clock::now() >= deadline) break;
      finished = ::waitpid(pid, nullptr, WNOHANG) == pid;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (!finished) {
      killed_mid_write |= mid_write;  // the loop left because a temporary file was there
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (fs::exists(out)) expect_checkpoints_readable(out, cat("after the kill of trial ", trial));

    ASSERT_EQ(wait_exit(start_training(data, out, true)), 0) << "see " << out << ".stderr";
    expect_checkpoints_readable(out, cat("after trial ", trial, " resumed"));
    expect_same_parameters(reference + "/last.ckpt", out + "/last.ckpt");
    expect_same_parameters(reference + "/best.ckpt", out + "/best.ckpt");
    EXPECT_EQ(log_records(reference), log_records(out)) << "trial " << trial;
  }
  EXPECT_TRUE(killed_mid_write) << "no kill landed while a checkpoint was being written";
}
