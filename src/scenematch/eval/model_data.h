// A model together with the data it needs on one split, loaded the same way
// by eval, probe, validation during training and search.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "scenematch/data/batcher.h"
#include "scenematch/models/checkpoint.h"

namespace sm {

// The batcher refers to the split, graphs and vocabulary, so this owns all
// three and is never copied or moved (it lives behind a unique_ptr).
struct EvalData {
  Split split;
  Vocab vocab;
  std::vector<CaptionGraph> graphs;
  std::unique_ptr<Batcher> batcher;

  EvalData() = default;
  EvalData(const EvalData&) = delete;
  EvalData& operator=(const EvalData&) = delete;
};

struct EvalDataOptions {
  bool probes = false;  // also require and read S_probes.jsonl
  int threads = 0;      // caption parser threads (0 = all cores)
};

// "FILE: N of M caption tokens (P%) are not in the model's vocabulary ...,
// most often: w (n), ...", naming the `most` commonest; empty when every
// token is known. A model trained on other captions (another dataset,
// caption forms it never saw) reads those words as <unk>, which costs recall
// without failing, so load_eval_data prints this to stderr.
std::string unknown_word_notice(const Vocab& vocab, const std::vector<CaptionGraph>& graphs, const std::string& file,
                                size_t most = 5);

// Loads DIR/SPLIT_* with what `needs` asks for (boxes, scene graphs, parsed
// captions from the parse cache) and builds a batcher on `vocab`.
std::unique_ptr<EvalData> load_eval_data(const std::string& data_dir, const std::string& split, const Vocab& vocab,
                                         const DataNeeds& needs, const EvalDataOptions& options = {});

struct ModelData {
  std::string source;  // the checkpoint path, or the model name for an in-memory bundle
  ModelBundle bundle;
  std::unique_ptr<EvalData> data;

  Matcher& model() const { return *bundle.model; }
  const Batcher& batcher() const { return *data->batcher; }
  const Split& split() const { return data->split; }
};

ModelData load_model_data(const std::string& checkpoint, const std::string& data_dir, const std::string& split,
                          const torch::Device& device, const EvalDataOptions& options = {});
ModelData attach_data(ModelBundle bundle, const std::string& data_dir, const std::string& split,
                      const EvalDataOptions& options = {});

}  // namespace sm
