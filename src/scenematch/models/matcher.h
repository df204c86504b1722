// The interface every image-text matching model implements, and the registry
// that builds one from a name and a config (like OpenCLIP's factory).
#pragma once
#include <torch/nn/module.h>

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "scenematch/core/config.h"
#include "scenematch/data/batch.h"
#include "scenematch/data/vocab.h"
#include "scenematch/models/encoding.h"

namespace sm {

struct LossOutput {
  torch::Tensor total;                  // scalar to backpropagate
  std::map<std::string, double> terms;  // each term's value, for logs
  // The whole batch's image encoding the loss scored, graph attached, so later
  // terms on the same batch (hard negatives) score against it instead of
  // encoding the images again; empty where the loss did not encode them all.
  Encoding images;
};

class Matcher : public torch::nn::Module {
 public:
  explicit Matcher(Config config) : config_(std::move(config)) {}
  virtual ~Matcher() = default;

  virtual std::string name() const = 0;
  virtual DataNeeds needs() const { return {}; }

  // Encoders run once per image and once per caption (batches are on any
  // device; implementations move them to device()).
  virtual Encoding encode_images(const ImageBatch& batch) = 0;
  virtual Encoding encode_captions(const CaptionBatch& batch) = 0;
  // (Ni, Nc) similarity of every image with every caption of two encodings.
  virtual torch::Tensor score(const Encoding& images, const Encoding& captions) = 0;

  // Loss for a batch of matched pairs (image b with caption b). The default is
  // ranking_loss on score(encode(images), encode(captions)).
  virtual LossOutput loss(const ImageBatch& images, const CaptionBatch& captions);
  // True when loss() is that default. Distributed training (train/distributed.h)
  // splits the default loss's score matrix across ranks; a model whose loss
  // adds terms of its own returns false and trains in one process.
  virtual bool uses_ranking_loss() const { return true; }

  // True when score() is the dot product of global_embedding()s, so an exact
  // vector index answers retrieval by itself (EmbeddingMatcher).
  virtual bool embedding_scores() const { return false; }
  // (N, d) L2-normalised first-stage vectors of an encoding. Embedding models
  // return the vectors they score with; cross-attention models define their
  // own candidate-generating vector (documented in their page).
  virtual torch::Tensor global_embedding(const Encoding& encoding, bool is_image) const = 0;

  // Called by the trainer before every step: records the epoch for
  // hardest_negatives(), then lets the model update its own schedule.
  void begin_step(int64_t global_step, int epoch) {
    training_epoch_ = epoch;
    on_step(global_step, epoch);
  }
  // Model-specific schedules (warm-ups, phases); see begin_step.
  virtual void on_step(int64_t global_step, int epoch) {}

  const Config& config() const { return config_; }
  torch::Device device() const;

  // Whether the triplet loss keeps only the hardest negative: "max_violation",
  // except during the first "sum_violation_epochs" epochs of training, which
  // sum over every negative. From a random start hardest negatives alone sit
  // at the collapse point (every score equal, loss 2 * margin * batch) for
  // epochs on the small world; summing first is the warm-up of VSE-infinity's
  // released code (vse_mean_warmup_epochs). Outside training: the configured loss.
  bool hardest_negatives() const;
  // The shared triplet loss (losses.h) on a (B, B) score matrix of the
  // batch's pairs: the configured margin, hardest negatives after the
  // warm-up, and pairs of the same image never counted as negatives.
  torch::Tensor ranking_loss(const torch::Tensor& scores, const std::vector<int64_t>& image_ids) const;

 protected:
  Config config_;
  int training_epoch_ = std::numeric_limits<int>::max();
};

using MatcherPtr = std::shared_ptr<Matcher>;

// Sizes of one image-caption pair, for counting a model's scoring work.
struct PairShape {
  double words = 12, regions = 36;      // caption words, image regions (the papers' shapes)
  double triplets = 4, relations = 10;  // textual triplets, visual relations (scene-graph models)
};

struct MatcherInfo {
  std::string name, description;
  // Config for a preset name ("paper", "cpu", ...); fail() on an unknown one.
  std::function<Config(const std::string& preset)> preset;
  std::function<MatcherPtr(const Config& config, const Vocab& vocab)> make;
  // Matrix-product FLOPs score() spends on one pair of `shape` under `config`,
  // counted from the model's own equations (docs/performance.md).
  std::function<double(const Config& config, const PairShape& shape)> score_flops;
};

bool register_matcher(MatcherInfo info);
// Called from a static initialiser in each model's .cc file:
//   const bool kRegistered = register_model<MyModel>("name", "description", my_preset, my_flops);
// Model constructs from (const Config&, const Vocab&).
template <class Model>
bool register_model(std::string name, std::string description, std::function<Config(const std::string&)> preset,
                    std::function<double(const Config&, const PairShape&)> score_flops) {
  return register_matcher(
      {std::move(name), std::move(description), std::move(preset),
       [](const Config& config, const Vocab& vocab) -> MatcherPtr { return std::make_shared<Model>(config, vocab); },
       std::move(score_flops)});
}
const MatcherInfo& matcher_info(const std::string& name);  // error lists known names
std::vector<std::string> matcher_names();
Config matcher_preset(const std::string& name, const std::string& preset);
MatcherPtr make_matcher(const std::string& name, const Config& config, const Vocab& vocab);

// Training keys every preset carries (the trainer reads these), for "paper"
// (VSE++/SCAN-style schedule) and "cpu" (small, minutes on 2 cores). Models
// start from these and override.
Config base_preset(const std::string& preset);

}  // namespace sm
