// An untrained model saved as a checkpoint: for search and service tests and
// benchmarks, whose work does not depend on what the weights learnt.
#pragma once
#include <torch/torch.h>

#include <string>

#include "scenematch/models/checkpoint.h"
#include "scenematch/models/matcher.h"

namespace sm::testing {

// `model` with its cpu preset on `feature_dim`-d regions and `vocab`, seeded
// with 0 so every run builds the same weights, written to `path`.
inline void save_untrained_checkpoint(const std::string& model, int64_t feature_dim, Vocab vocab,
                                      const std::string& path) {
  ModelBundle bundle;
  bundle.name = model;
  bundle.config = matcher_preset(model, "cpu");
  bundle.config["feature_dim"] = feature_dim;
  bundle.vocab = std::move(vocab);
  torch::manual_seed(0);
  bundle.model = make_matcher(model, bundle.config, bundle.vocab);
  save_checkpoint(path, bundle);
}

}  // namespace sm::testing
