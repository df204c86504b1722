#include "scenematch/train/hard_negative_loss.h"

#include <torch/torch.h>

#include <filesystem>

#include "scenematch/models/losses.h"
#include "scenematch/text/parse_cache.h"

namespace sm {
namespace {

constexpr NegativeKind kKinds[kNegativeKinds] = {NegativeKind::relation_swap, NegativeKind::attribute_swap,
                                                 NegativeKind::absent_object};

// The image's scene graph when the split has one (loaded for the model, or
// read here for models that do not take graphs), else none.
std::vector<SceneGraph> scene_graphs_of(const Split& split) {
  if (!split.scene_graphs.empty()) return split.scene_graphs;
  const std::string path = split.file("vsg.jsonl");
  return std::filesystem::exists(path) ? read_scene_graphs(path) : std::vector<SceneGraph>{};
}

// "hard_negative_margin" when set; null or absent (configs from before the
// key) leave the model's own triplet margin.
double hard_negative_margin(const Config& config) {
  const auto it = config.find("hard_negative_margin");
  const double margin = it == config.end() || it->is_null() ? cfg_get<double>(config, "margin", 0.2)
                                                            : cfg_get<double>(config, "hard_negative_margin");
  if (!(margin >= 0)) fail("hard_negative_margin must be 0 or more (got ", margin, ")");
  return margin;
}

}  // namespace

std::string hard_negative_weight_key(NegativeKind kind) { return cat("hard_negative_", negative_kind_name(kind)); }

std::unique_ptr<HardNegativeTerm> HardNegativeTerm::from_config(const Config& config, const Batcher& train) {
  if (!cfg_get<bool>(config, "hard_negatives", false)) return nullptr;
  const Split& split = train.split();
  return std::make_unique<HardNegativeTerm>(config, train,
                                            caption_graphs(split.captions, split.file("caps.txt"), /*parse=*/true));
}

HardNegativeTerm::HardNegativeTerm(const Config& config, const Batcher& train, std::vector<CaptionGraph> parsed)
    : train_(train),
      parsed_(std::move(parsed)),
      margin_(hard_negative_margin(config)),
      from_epoch_(cfg_get<int>(config, "hard_negative_from_epoch", 1)) {
  if (from_epoch_ < 1) fail("hard_negative_from_epoch must be 1 or more (got ", from_epoch_, ")");
  const Split& split = train.split();
  if (static_cast<int64_t>(parsed_.size()) != split.num_captions())
    fail("hard negatives: ", parsed_.size(), " parses for the ", split.num_captions(), " captions of ",
         split.file("caps.txt"));
  for (size_t k = 0; k < kNegativeKinds; ++k) weight_[k] = cfg_get<double>(config, hard_negative_weight_key(kKinds[k]));
  const Vocab& vocab = train.vocab();
  pool_ = CategoryPool::from_graphs(parsed_, [&](const std::string& w) { return vocab.contains(w); });

  present_.resize(split.num_images());
  for (int64_t c = 0; c < split.num_captions(); ++c)
    for (const auto& o : parsed_[c].objects) present_[split.image_of_caption(c)].insert(o.word);
  const auto graphs = scene_graphs_of(split);
  for (size_t i = 0; i < graphs.size() && i < present_.size(); ++i)
    for (const auto& o : graphs[i].objects) {
      present_[i].insert(o.label);
      present_[i].insert(o.label.substr(o.label.rfind(' ') + 1));  // the head of "tennis racket"
    }
}

std::vector<HardNegative> HardNegativeTerm::negatives(int64_t caption, std::mt19937_64& rng) const {
  std::vector<HardNegative> all =
      make_hard_negatives(parsed_.at(caption), present_[train_.split().image_of_caption(caption)], pool_, rng);
  std::vector<HardNegative> used;
  for (auto& n : all)
    if (weight_[static_cast<int>(n.kind)] > 0) used.push_back(std::move(n));
  return used;
}

void HardNegativeTerm::add(Matcher& model, const ImageBatch& images, const std::vector<int64_t>& caption_ids,
                           uint64_t seed, LossOutput& out, const ProcessGroupContext* group) const {
  const int64_t n = static_cast<int64_t>(caption_ids.size());
  if (images.size() != n) fail("hard negatives: ", images.size(), " images for ", n, " captions");
  std::mt19937_64 rng(seed);
  // Caption b's group: its own parse, then its negatives.
  std::vector<std::vector<HardNegative>> drawn(n);
  std::vector<const CaptionGraph*> graphs;
  std::vector<int64_t> ids, group_begin;
  for (int64_t b = 0; b < n; ++b) {
    drawn[b] = negatives(caption_ids[b], rng);
    group_begin.push_back(static_cast<int64_t>(graphs.size()));
    if (drawn[b].empty()) continue;
    graphs.push_back(&parsed_[caption_ids[b]]);
    ids.push_back(caption_ids[b]);
    for (const auto& negative : drawn[b]) {
      graphs.push_back(&negative.graph);
      ids.push_back(caption_ids[b]);
    }
  }
  // The same on every rank of a group, so all of them skip the collective.
  if (graphs.empty()) {
    out.terms["hard_negatives"] = 0;
    return;
  }
  const Encoding caps = model.encode_captions(train_.captions_from(graphs, ids));
  // The loss's own encoding of these images when it has one: the same values
  // (and dropout draws), and the image encoder runs once a step.
  const Encoding imgs = out.images.size() == n ? out.images : model.encode_images(images);
  const auto [first, last] = group ? group->shard(n) : std::pair<int64_t, int64_t>(0, n);
  std::vector<torch::Tensor> positive, negative;
  std::vector<float> weights;  // one per scored negative, in the order of `negative`
  for (int64_t b = first; b < last; ++b) {
    if (drawn[b].empty()) continue;
    const int64_t k = static_cast<int64_t>(drawn[b].size());
    const int64_t begin = group_begin[b];
    torch::Tensor s = model.score(imgs.slice(b, b + 1), caps.slice(begin, begin + 1 + k)).reshape({-1});
    positive.push_back(s.slice(0, 0, 1).expand({k}));
    negative.push_back(s.slice(0, 1, 1 + k));
    for (const auto& drawn_negative : drawn[b])
      weights.push_back(static_cast<float>(weight_[static_cast<int>(drawn_negative.kind)]));
  }
  // A rank whose shard drew no negatives still takes part in the gather.
  torch::Tensor loss =
      torch::zeros({}, torch::TensorOptions().dtype(out.total.scalar_type()).device(out.total.device()));
  if (!positive.empty()) {
    torch::Tensor pos = torch::cat(positive), neg = torch::cat(negative);
    loss = weighted_hinge(pos, neg, torch::tensor(weights).to(pos.device(), pos.scalar_type()), margin_);
  }
  if (group) loss = group->all_gather_rows(loss.reshape({1})).sum();
  out.total = out.total + loss;
  out.terms["hard_negatives"] = loss.item<double>();
}

}  // namespace sm
