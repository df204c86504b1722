// The training loop shared by every model: Adam with a step-decayed learning
// rate, gradient clipping, validation rSum after each epoch, best and last
// checkpoints, exact resume, a JSONL log and a PNG of the curves.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "scenematch/core/config.h"
#include "scenematch/data/batcher.h"
#include "scenematch/models/checkpoint.h"

namespace torch::optim {
class Adam;
}

namespace sm {

class HardNegativeTerm;
class ProcessGroupContext;
class GradientReducer;

struct TrainerOptions {
  std::string out_dir;  // gets best.ckpt, last.ckpt, log.jsonl, curves.png, vocab.json
  bool verbose = true;  // one summary line per epoch on stderr
  // Several processes train as one (train/distributed.h): config batch_size
  // is per rank, and only rank 0 writes files. Null: this process alone.
  std::shared_ptr<const ProcessGroupContext> group;
};

struct TrainSummary {
  int epochs = 0;      // epochs completed in total (a resumed run counts the earlier ones)
  int best_epoch = 0;  // 1-based; 0 when no epoch ran
  double best_rsum = 0;
  Json last_record;    // the last epoch's log line (null when no epoch ran)
  double seconds = 0;  // wall time of this call to run()
  std::string best_path, last_path, log_path, plot_path;
};

class Trainer {
 public:
  // Reads the schedule from bundle.config (epochs, batch_size, lr, lr_update,
  // lr_decay, grad_clip, seed). train and dev must be built on bundle.vocab's
  // words; the model stays on its device.
  Trainer(ModelBundle bundle, const Batcher& train, const Batcher& dev, TrainerOptions options);
  ~Trainer();

  // Continues a run from its last.ckpt: the bundle passed to the constructor
  // must already hold that checkpoint's weights; this restores the optimizer,
  // epoch and step counters, best score, log and RNG state.
  void restore(const CheckpointFile& last);

  // Trains until config "epochs" epochs are complete (none when a resumed run
  // already got there).
  TrainSummary run();

  const std::vector<Json>& records() const { return records_; }
  static constexpr const char* kBest = "best.ckpt";
  static constexpr const char* kLast = "last.ckpt";
  static constexpr const char* kLog = "log.jsonl";
  static constexpr const char* kPlot = "curves.png";

 private:
  Json train_epoch(int epoch);
  Json validate();
  Json state() const;
  std::string optimizer_bytes() const;
  std::string path(const char* file) const { return options_.out_dir + "/" + file; }
  // Distributed hooks; each is the one-process behaviour without a group.
  LossOutput step_loss(const std::vector<int64_t>& image_ids, const std::vector<int64_t>& caption_ids, int epoch);
  void reduce_gradients();  // waits for the all-reduces backward started
  bool writes_files() const;

  ModelBundle bundle_;
  const Batcher& train_;
  const Batcher& dev_;
  TrainerOptions options_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::unique_ptr<HardNegativeTerm> hard_negatives_;  // null unless config hard_negatives=true
  int epochs_done_ = 0, best_epoch_ = 0;
  int64_t global_step_ = 0;
  // Items per step over all ranks: config batch_size times the world size of
  // the first run, kept on resume whatever the world size then.
  int64_t global_batch_ = 0;
  std::unique_ptr<GradientReducer> gradient_reducer_;  // with a group of several ranks
  // This epoch's wait for gradient all-reduces after backward (distributed
  // runs): the communication that backward did not hide.
  double allreduce_seconds_ = 0;
  double best_rsum_ = -1;
  std::vector<Json> records_;
};

}  // namespace sm
