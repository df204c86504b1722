// A whole training run from a dataset folder: vocabulary, config, model,
// train and validation splits, trainer; fresh or resumed. Shared by
// `scenematch train`, the tests and the demo.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "scenematch/data/vocab.h"
#include "scenematch/train/trainer.h"

namespace sm {

struct TrainRequest {
  std::string model, data_dir, out_dir;
  std::string preset = "paper";
  std::string val_split = "dev";
  std::vector<std::string> overrides;  // "KEY=VALUE", applied over the preset
  bool resume = false;                 // continue out_dir/last.ckpt
  torch::Device device = torch::kCPU;
  int threads = 0;      // for the caption parser
  bool verbose = true;  // config and per-epoch lines on stderr
  // Train as one rank of several (TrainerOptions::group); null: alone.
  std::shared_ptr<const ProcessGroupContext> group;
};

// The vocabulary of a dataset: DIR/vocab.json when present, else built from
// the training captions with vocab_min_count.
Vocab dataset_vocab(const std::string& data_dir, int min_count);

// Resolves the config (preset, overrides, feature_dim from the data, seed),
// builds or resumes the model and trains it. Fails before any work when the
// run folder already holds a run and resume is false.
TrainSummary run_training(const TrainRequest& request);

}  // namespace sm
