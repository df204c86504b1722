// A trained first-stage head for the cross-attention models (GSMN, SGM,
// ReSG): one global vector per image and per caption, trained beside the model
// so a vector index proposes the candidates the cross-attention score then
// re-ranks (docs/search.md). It is in none of the papers (docs/models.md).
//
// Each side pools its nodes (masked mean and max, concatenated), projects them
// with a linear layer of its own and L2-normalises; it starts as the mean-node
// proxy the models had before (identity on the mean). Its loss is the model's
// triplet loss (Matcher::ranking_loss: margin, hardest negatives after the
// warm-up) on the dot products of the head's vectors, times
// `first_stage_weight`, plus optionally `first_stage_distill` times the KL of
// the head's in-batch score distributions from the cross-attention score's.
// With `first_stage_detach` (the presets' value) the head reads detached node
// vectors, and the trainer clips its gradients on their own, so training the
// model with the head leaves every other weight as it trains without it.
//
// Config keys: first_stage_head (registers the head; absent = off, as in
// checkpoints written before it existed), first_stage_weight,
// first_stage_distill, first_stage_temperature, first_stage_detach.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <vector>

#include "scenematch/core/config.h"
#include "scenematch/models/matcher.h"

namespace sm {

// The module name a model registers its head under (trainer and distributed
// training find it there).
inline constexpr const char* kFirstStageHeadName = "first_stage_head";

struct FirstStageHeadImpl : torch::nn::Module {
  // node_dim: the size of the node vectors the head pools. Output size: embed_size.
  FirstStageHeadImpl(const Config& config, int64_t node_dim);

  // (N, embed_size) L2-normalised vectors of nodes (N, M, node_dim) under mask (N, M).
  torch::Tensor embed(const torch::Tensor& nodes, const torch::Tensor& mask, bool is_image) const;

  // Adds the head's terms to `out` for a batch of matched pairs: `images` and
  // `captions` encodings of the whole batch, `cross_scores` the model's (B, B)
  // score matrix of them (read without gradient). Each term adds its value to
  // out.total but only `scale` of its gradient (distributed ranks each pass
  // 1/world, so their summed gradients are one process's); logged as
  // "first_stage" (triplet) and, when on, "first_stage_distill".
  void add_loss(const Matcher& model, const Encoding& images, const Encoding& captions,
                const torch::Tensor& cross_scores, const std::vector<int64_t>& image_ids, LossOutput& out,
                double scale = 1.0) const;

  torch::nn::Linear image{nullptr}, caption{nullptr};
  double weight = 1, distill = 0, temperature = 0.1;
  bool detach = true;
};
TORCH_MODULE(FirstStageHead);

// Registers a head on `model` when its config has first_stage_head=true; else
// returns an empty holder (the model keeps its mean-node proxy).
FirstStageHead make_first_stage_head(Matcher& model, const Config& config, int64_t node_dim);

// The head `model` registered, or nullptr.
const FirstStageHeadImpl* first_stage_head_of(const Matcher& model);

// Matcher::loss's default (ranking loss on score()) plus the head's terms.
LossOutput ranking_loss_with_head(Matcher& model, const FirstStageHeadImpl& head, const ImageBatch& images,
                                  const CaptionBatch& captions);

// Groups of parameters to clip apart: the model's, then the head's (when it
// has one). With a detached head, a shared clip would let the head's
// gradients shrink the model's.
std::vector<std::vector<torch::Tensor>> clip_groups(const Matcher& model);

// Distillation of a (B, B) teacher score matrix into a student's: KL(p || q)
// with p = softmax(teacher / T), q = softmax(student / T), over each row
// (image anchors) and each column (caption anchors), summed over anchors. The
// teacher gets no gradient.
torch::Tensor score_distillation(const torch::Tensor& student, const torch::Tensor& teacher, double temperature);

// Keys with the presets' values ("release": off, so the authors' checkpoints
// import as they are), for the presets of GSMN, SGM and ReSG.
void add_first_stage_preset(Config& config, const std::string& preset);

}  // namespace sm
