#include "scenematch/models/first_stage_head.h"

#include <torch/torch.h>

#include "scenematch/models/layers.h"
#include "scenematch/models/presets.h"

namespace sm {

FirstStageHeadImpl::FirstStageHeadImpl(const Config& config, int64_t node_dim) {
  const int64_t dim = cfg_get<int64_t>(config, "embed_size");
  weight = cfg_get<double>(config, "first_stage_weight", 1.0);
  distill = cfg_get<double>(config, "first_stage_distill", 0.0);
  temperature = cfg_get<double>(config, "first_stage_temperature", 0.1);
  detach = cfg_get<bool>(config, "first_stage_detach", true);
  if (weight < 0 || distill < 0)
    fail("config: keys 'first_stage_weight' (", weight, ") and 'first_stage_distill' (", distill,
         ") must be >= 0 (0 switches a term off)");
  if (temperature <= 0) fail("config: key 'first_stage_temperature' must be > 0, not ", temperature);
  // Input: [masked mean; masked max] of the nodes.
  image = register_module("image", torch::nn::Linear(2 * node_dim, dim));
  caption = register_module("caption", torch::nn::Linear(2 * node_dim, dim));
  // Starts as the mean-node proxy (identity on the mean, zero on the max), so
  // training moves it from there rather than from a random projection.
  torch::NoGradGuard no_grad;
  for (torch::nn::Linear fc : {image, caption}) {  // holders: copies share the layer
    fc->weight.zero_();
    fc->weight.slice(1, 0, node_dim).diagonal().fill_(1);
    fc->bias.zero_();
  }
}

torch::Tensor FirstStageHeadImpl::embed(const torch::Tensor& nodes, const torch::Tensor& mask, bool is_image) const {
  const torch::Tensor x = detach ? nodes.detach() : nodes;
  const torch::nn::Linear& fc = is_image ? image : caption;
  // An item with no node present (an empty caption) pools to zeros, not to masked_max's fill value.
  const torch::Tensor any = mask.any(1, /*keepdim=*/true).to(x.dtype());
  const torch::Tensor pooled = torch::cat({masked_mean(x, mask), masked_max(x, mask) * any}, 1);
  return l2norm(torch::nn::functional::linear(pooled, fc->weight, fc->bias));
}

torch::Tensor score_distillation(const torch::Tensor& student, const torch::Tensor& teacher, double temperature) {
  const torch::Tensor t = teacher.detach() / temperature, s = student / temperature;
  torch::Tensor total = torch::zeros({}, student.options());
  for (int64_t dim : {1, 0}) {  // rows: image anchors; columns: caption anchors
    const torch::Tensor log_p = torch::log_softmax(t, dim), log_q = torch::log_softmax(s, dim);
    total = total + (log_p.exp() * (log_p - log_q)).sum();
  }
  return total;
}

void FirstStageHeadImpl::add_loss(const Matcher& model, const Encoding& images, const Encoding& captions,
                                  const torch::Tensor& cross_scores, const std::vector<int64_t>& image_ids,
                                  LossOutput& out, double scale) const {
  const torch::Tensor scores =
      model.global_embedding(images, true).matmul(model.global_embedding(captions, false).t());  // (B, B)
  // The whole term's value (so every rank logs one process's loss), `scale` of its gradient.
  auto share = [scale](const torch::Tensor& term) {
    return scale == 1.0 ? term : term * scale + term.detach() * (1.0 - scale);
  };
  const torch::Tensor triplet = model.ranking_loss(scores, image_ids);
  out.terms["first_stage"] = triplet.item<double>();
  if (weight > 0) out.total = out.total + weight * share(triplet);
  if (distill > 0) {
    const torch::Tensor kl = score_distillation(scores, cross_scores.to(scores.device()), temperature);
    out.terms["first_stage_distill"] = kl.item<double>();
    out.total = out.total + distill * share(kl);
  }
}

FirstStageHead make_first_stage_head(Matcher& model, const Config& config, int64_t node_dim) {
  if (!cfg_get<bool>(config, "first_stage_head", false)) return nullptr;
  // Registered after every other module: built last, it leaves their random initialisation as it is without it.
  return model.register_module(kFirstStageHeadName, FirstStageHead(config, node_dim));
}

const FirstStageHeadImpl* first_stage_head_of(const Matcher& model) {
  const auto children = model.named_children();
  const auto* found = children.find(kFirstStageHeadName);
  return found ? dynamic_cast<const FirstStageHeadImpl*>(found->get()) : nullptr;
}

LossOutput ranking_loss_with_head(Matcher& model, const FirstStageHeadImpl& head, const ImageBatch& images,
                                  const CaptionBatch& captions) {
  const Encoding image_encoding = model.encode_images(images), caption_encoding = model.encode_captions(captions);
  const torch::Tensor scores = model.score(image_encoding, caption_encoding);
  LossOutput out;
  out.total = model.ranking_loss(scores, images.ids);
  out.terms["triplet"] = out.total.item<double>();
  head.add_loss(model, image_encoding, caption_encoding, scores, images.ids, out);
  out.images = image_encoding;
  return out;
}

std::vector<std::vector<torch::Tensor>> clip_groups(const Matcher& model) {
  const FirstStageHeadImpl* head = first_stage_head_of(model);
  if (!head) return {model.parameters()};
  std::vector<torch::Tensor> rest;
  const std::string prefix = std::string(kFirstStageHeadName) + ".";
  for (const auto& item : model.named_parameters())
    if (item.key().rfind(prefix, 0) != 0) rest.push_back(item.value());
  return {rest, head->parameters()};
}

void add_first_stage_preset(Config& config, const std::string& preset) {
  // Off in the release presets: the authors' checkpoints have no such weights.
  config["first_stage_head"] = parse_preset(preset).family != "release";
  config["first_stage_weight"] = 1.0;
  config["first_stage_distill"] = 0.0;
  config["first_stage_temperature"] = 0.1;
  config["first_stage_detach"] = true;
}

}  // namespace sm
