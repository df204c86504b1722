#include "scenematch/models/matcher.h"

#include <torch/torch.h>

#include "scenematch/models/embedding_matcher.h"
#include "scenematch/models/losses.h"
#include "scenematch/models/presets.h"

namespace sm {
namespace {
std::map<std::string, MatcherInfo>& registry() {
  static std::map<std::string, MatcherInfo> r;
  return r;
}
}  // namespace

LossOutput Matcher::loss(const ImageBatch& images, const CaptionBatch& captions) {
  LossOutput out;
  out.images = encode_images(images);
  out.total = ranking_loss(score(out.images, encode_captions(captions)), images.ids);
  out.terms["triplet"] = out.total.item<double>();
  return out;
}

torch::Tensor Matcher::ranking_loss(const torch::Tensor& scores, const std::vector<int64_t>& image_ids) const {
  return triplet_loss(scores, positive_pairs(image_ids, scores.size(0), scores.device()),
                      cfg_get<double>(config_, "margin", 0.2), hardest_negatives());
}

bool Matcher::hardest_negatives() const {
  return cfg_get<bool>(config_, "max_violation", true) &&
         training_epoch_ >= cfg_get<int64_t>(config_, "sum_violation_epochs", 0);
}

torch::Tensor EmbeddingMatcher::score(const Encoding& images, const Encoding& captions) {
  const auto& img = images.at("emb");
  return img.matmul(captions.at("emb").to(img.device()).t());
}

double embedding_score_flops(const Config& config, const PairShape&) {
  return 2.0 * cfg_get<double>(config, "embed_size");
}

torch::Device Matcher::device() const {
  auto params = parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

bool register_matcher(MatcherInfo info) {
  if (!info.preset || !info.make || !info.score_flops)
    fail("register_matcher: model '", info.name, "' needs a preset, a factory and a FLOP count");
  auto name = info.name;
  registry()[name] = std::move(info);
  return true;
}

const MatcherInfo& matcher_info(const std::string& name) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : matcher_names()) known += (known.empty() ? "" : ", ") + n;
    fail("unknown model '", name, "'; known models: ", known);
  }
  return it->second;
}

std::vector<std::string> matcher_names() {
  std::vector<std::string> names;
  for (const auto& [n, _] : registry()) names.push_back(n);
  return names;
}

Config matcher_preset(const std::string& name, const std::string& preset) {
  Config cfg = matcher_info(name).preset(preset);
  cfg["model"] = name;
  cfg["preset"] = preset;
  return cfg;
}

MatcherPtr make_matcher(const std::string& name, const Config& config, const Vocab& vocab) {
  return matcher_info(name).make(config, vocab);
}

namespace {

Config schedule_preset(const std::string& preset) {
  const PresetName name = parse_preset(preset);
  if (name.family == "cpu") {
    // Small sizes that train on the small synthetic world in minutes on 2 cores.
    return {{"epochs", 12},      {"batch_size", 128},     {"lr", 5e-4},
            {"lr_update", 8},    {"lr_decay", 0.1},       {"grad_clip", 2.0},
            {"margin", 0.2},     {"max_violation", true}, {"sum_violation_epochs", 1},
            {"embed_size", 256}, {"word_dim", 128},       {"vocab_min_count", 1},
            {"workers", 0},      {"feature_dim", 2048}};
  }
  // Paper, release and COCO presets start here; each model overrides what its paper
  // (or release) states. VSE++ / SCAN schedule on Flickr30K: 30 epochs, lr 2e-4 divided by 10 at epoch 15.
  return {{"epochs", 30},       {"batch_size", 128},     {"lr", 2e-4},
          {"lr_update", 15},    {"lr_decay", 0.1},       {"grad_clip", 2.0},
          {"margin", 0.2},      {"max_violation", true}, {"sum_violation_epochs", 0},
          {"embed_size", 1024}, {"word_dim", 300},       {"vocab_min_count", 4},
          {"workers", 0},       {"feature_dim", 2048}};  // bottom-up region features; training sets the data's
}

}  // namespace

Config base_preset(const std::string& preset) {
  Config cfg = schedule_preset(preset);
  // Compositional hard negatives (train/hard_negative_loss.h): off, as none of the papers trains with them.
  cfg["hard_negatives"] = false;
  // Captions of one image drawn together into a batch (Batcher::epoch); 1: every caption on its own.
  cfg["captions_per_image"] = 1;
  for (const char* kind : {"relation_swap", "attribute_swap", "absent_object"})
    cfg[std::string("hard_negative_") + kind] = 1.0;
  // The first epoch (1-based) that adds them; a later one first learns retrieval and then
  // fine-tunes with them, as NegCLIP fine-tunes a trained CLIP.
  cfg["hard_negative_from_epoch"] = 1;
  // The term's hinge margin; null: the model's triplet "margin". A smaller one asks only
  // that the caption beat its negative, not that it beat it by a retrieval-sized gap.
  cfg["hard_negative_margin"] = nullptr;
  return cfg;
}

}  // namespace sm
