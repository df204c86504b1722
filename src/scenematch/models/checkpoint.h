// Checkpoint files: model name, config, vocabulary, weights, and (for resume)
// the trainer's state and optimizer. Written atomically; a truncated or
// corrupt file is refused with a message naming it.
#pragma once
#include <string>

#include "scenematch/core/config.h"
#include "scenematch/data/vocab.h"
#include "scenematch/models/matcher.h"

namespace sm {

struct ModelBundle {
  std::string name;
  Config config;
  Vocab vocab;
  MatcherPtr model;
};

struct CheckpointFile {
  ModelBundle bundle;
  Json trainer_state;           // epoch, step, RNG states, best score, ... (empty for a bare model)
  std::string optimizer_bytes;  // serialised optimizer archive (empty for a bare model)
};

void save_checkpoint(const std::string& path, const ModelBundle& bundle, const Json& trainer_state = Json::object(),
                     const std::string& optimizer_bytes = "");
CheckpointFile load_checkpoint(const std::string& path, const torch::Device& device);
// Header only (name, config, trainer state) without building the model: for `info`.
Json read_checkpoint_header(const std::string& path);

}  // namespace sm
