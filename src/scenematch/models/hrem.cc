// HREM (Fu, Mao, Song, Zhang, CVPR 2023): hierarchical relation modelling for
// an embedding-based matcher. Fragment level: one Transformer layer over the
// regions of an image and one over the words of a caption; the global vector
// mixes a max-pool of the initial fragments with an average-pool of the
// enhanced ones. Instance level (training only): a masked, biased attention
// layer over all 2N image and caption embeddings of a batch, whose outputs
// join the triplet loss. Inference is the cosine of independently encoded
// global vectors, so any exact vector index serves it.
#include "scenematch/models/hrem.h"

#include <torch/torch.h>

#include <limits>

#include "scenematch/models/embedding_matcher.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/losses.h"
#include "scenematch/models/presets.h"

namespace sm {
namespace hrem {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Top-K of the last dim over valid entries, zero-padded to K: short captions
// have fewer than K = 10 words, and a missing match counts as no evidence.
torch::Tensor topk_padded(const torch::Tensor& x, const torch::Tensor& valid, int64_t k) {
  const int64_t take = std::min(k, x.size(-1));
  torch::Tensor top = std::get<0>(x.masked_fill(valid.logical_not(), -kInf).topk(take, -1));
  top = top.masked_fill(top.isinf(), 0.0);
  return take < k ? torch::constant_pad_nd(top, {0, k - take}, 0.0) : top;
}

// Euclidean distances of unit rows; clamped so coincident rows (the diagonal)
// pass no infinite gradient through the square root.
torch::Tensor distances(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor sq = a.pow(2).sum(1, true) + b.pow(2).sum(1).unsqueeze(0) - 2 * a.matmul(b.t());
  return sq.clamp_min(1e-12).sqrt();
}

}  // namespace

torch::Tensor gaussian_kernel(const torch::Tensor& a, const torch::Tensor& b, double sigma, bool squared) {
  torch::Tensor d = distances(a, b);
  return torch::exp(-(squared ? d.pow(2) : d) / sigma);
}

torch::Tensor distance_weighted_anchor_loss(const torch::Tensor& scores, const torch::Tensor& positives,
                                            const DistanceWeighting& w) {
  torch::Tensor candidates, weights;
  {
    // The sampling distribution carries no gradient; the hinge below does.
    torch::NoGradGuard no_grad;
    torch::Tensor dist = (2 - 2 * scores.detach()).clamp_min(0).sqrt().clamp_min(w.cutoff);
    candidates = positives.logical_not().logical_and(dist < w.nonzero_cutoff);
    // log of 1 / q(d), q the density of distances between uniform points on the unit (n-1)-sphere
    torch::Tensor log_w = (2.0 - w.dim) * dist.log() - ((w.dim - 3.0) / 2.0) * (1 - 0.25 * dist.pow(2)).log();
    log_w = log_w.masked_fill(candidates.logical_not(), -kInf);
    torch::Tensor row_max = std::get<0>(log_w.max(1, true)).masked_fill(candidates.any(1, true).logical_not(), 0);
    weights = (log_w - row_max).exp();
  }
  torch::Tensor pairs = positives.nonzero();  // (P, 2): anchor row, positive column
  torch::Tensor anchor = pairs.select(1, 0), positive = pairs.select(1, 1);
  torch::Tensor has_negative = candidates.any(1).index_select(0, anchor);
  // Rows without a candidate get a dummy uniform row so multinomial can draw; their hinge is masked out.
  torch::Tensor rows = weights.index_select(0, anchor).masked_fill(has_negative.logical_not().unsqueeze(1), 1.0);
  torch::Tensor negative = torch::multinomial(rows, 1).squeeze(1);
  torch::Tensor s_ap = scores.index({anchor, positive}), s_an = scores.index({anchor, negative});
  return ((w.margin + s_an - s_ap).clamp_min(0) * has_negative.to(scores.dtype())).sum();
}

torch::Tensor distance_weighted_triplet(const torch::Tensor& scores, const torch::Tensor& positives,
                                        const DistanceWeighting& w) {
  return distance_weighted_anchor_loss(scores, positives, w) +
         distance_weighted_anchor_loss(scores.t(), positives.t(), w);
}

torch::Tensor top_neighbours(const torch::Tensor& affinity, double tau) {
  const int64_t m = affinity.size(1);
  const int64_t k = std::min(m, std::max<int64_t>(1, static_cast<int64_t>(tau * m)));
  torch::Tensor idx = std::get<1>(affinity.detach().topk(k, 1));
  return torch::zeros_like(affinity, affinity.options().dtype(torch::kBool)).scatter_(1, idx, true);
}

FragmentMatching fragment_matching(const torch::Tensor& regions, const torch::Tensor& region_mask,
                                   const torch::Tensor& words, const torch::Tensor& word_mask, int64_t topk) {
  const int64_t ni = regions.size(0), nr = regions.size(1), nc = words.size(0), nw = words.size(1);
  // All words of the batch against all regions in one GEMM: (Nc*L, d) x (d, Ni*R).
  torch::Tensor sim = l2norm(words).reshape({nc * nw, -1}).matmul(l2norm(regions).reshape({ni * nr, -1}).t());
  sim = torch::leaky_relu(sim.view({nc, nw, ni, nr}), 0.1);
  torch::Tensor wmask = word_mask.view({nc, nw, 1, 1}), rmask = region_mask.view({1, 1, ni, nr});
  // Padding contributes zero to the SCAN normalisation below.
  sim = sim.masked_fill(wmask.logical_and(rmask).logical_not(), 0.0);

  FragmentMatching out;
  // Word -> best region, after normalising each region's column over words.
  torch::Tensor by_word = l2norm(sim, 1).masked_fill(rmask.logical_not(), -kInf).amax(3).permute({0, 2, 1});
  torch::Tensor wvalid = word_mask.view({nc, 1, nw});
  out.p_t2i = by_word.masked_fill(wvalid.logical_not(), 0.0).sum(2) / word_mask.sum(1, true).to(sim.dtype());
  out.q_t2i = topk_padded(by_word, wvalid, topk);
  // Region -> best word, after normalising each word's row over regions.
  torch::Tensor by_region = l2norm(sim, 3).masked_fill(wmask.logical_not(), -kInf).amax(1).permute({1, 0, 2});
  torch::Tensor rvalid = region_mask.view({ni, 1, nr});
  out.p_i2t = by_region.masked_fill(rvalid.logical_not(), 0.0).sum(2) / region_mask.sum(1, true).to(sim.dtype());
  out.q_i2t = topk_padded(by_region, rvalid, topk);
  return out;
}

torch::Tensor InstanceGraph::attention_bias(double lambda) const {
  return (lambda * relevance).masked_fill(connect.logical_not(), -kInf);
}

InstanceGraph build_graph(const torch::Tensor& images, const torch::Tensor& captions, const torch::Tensor& p_i2t,
                          const torch::Tensor& p_t2i, const torch::Tensor& s_i2t, const torch::Tensor& s_t2i,
                          double tau, double sigma, bool squared) {
  InstanceGraph g;
  // Eq. 5: same-modality neighbours by embedding similarity (each node ranks
  // itself first, so it is its own neighbour, as in the released code).
  // Eq. 6: cross-modal neighbours by the fragment matching value p.
  g.connect =
      torch::cat({torch::cat({top_neighbours(images.matmul(images.t()), tau), top_neighbours(p_i2t, tau)}, 1),
                  torch::cat({top_neighbours(p_t2i, tau), top_neighbours(captions.matmul(captions.t()), tau)}, 1)},
                 0);
  // Eq. 10 (squared distance as printed, or the release's plain distance).
  torch::Tensor s_ii = gaussian_kernel(images, images, sigma, squared);
  torch::Tensor s_tt = gaussian_kernel(captions, captions, sigma, squared);
  g.relevance = torch::cat({torch::cat({s_ii, s_i2t}, 1), torch::cat({s_t2i, s_tt}, 1)}, 0);
  return g;
}

namespace {

// Pooling over the fragment axis of (B, n, d) where mask (B, n) is true: the
// mean of the k largest values per dimension (k = 1: Eq. 2's max-pool; k = 2:
// the released code's max-k pooling). An item with fewer than k fragments
// repeats its maximum.
torch::Tensor top_k_pool(const torch::Tensor& x, const torch::Tensor& mask, int64_t k) {
  if (k == 1) return masked_max(x, mask);
  torch::Tensor top =
      std::get<0>(x.masked_fill(mask.logical_not().unsqueeze(-1), -kInf).topk(std::min(k, x.size(1)), 1));
  top = torch::where(top.isinf(), top.select(1, 0).unsqueeze(1).expand_as(top), top);
  return top.mean(1);
}

torch::nn::TransformerEncoderLayer transformer_layer(const Config& cfg) {
  const int64_t d = cfg_get<int64_t>(cfg, "embed_size");
  return torch::nn::TransformerEncoderLayer(torch::nn::TransformerEncoderLayerOptions(d, cfg_get<int64_t>(cfg, "heads"))
                                                .dim_feedforward(cfg_get<int64_t>(cfg, "ff_dim"))
                                                .dropout(cfg_get<double>(cfg, "dropout")));
}

// Items-first (B, n, d) through a sequence-first Transformer layer, padding
// excluded from the keys.
torch::Tensor run_layer(torch::nn::TransformerEncoderLayer& layer, const torch::Tensor& x, const torch::Tensor& mask) {
  return layer->forward(x.transpose(0, 1), {}, mask.logical_not()).transpose(0, 1);
}

// Words -> fragment features (B, L, d). The seam for other text encoders (the
// paper's BERT variant): implement this and select it in make_text_encoder.
struct TextEncoderImpl : torch::nn::Module {
  virtual torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& lengths) = 0;
};

// Sec. 3.1: BiGRU (directions averaged) then an FC layer to d.
struct BiGruTextImpl : TextEncoderImpl {
  BiGruTextImpl(const Config& cfg, const Vocab& vocab) {
    const int64_t d = cfg_get<int64_t>(cfg, "embed_size");
    gru = register_module("gru", WordEncoder(vocab.size(), cfg_get<int64_t>(cfg, "word_dim"), d, true,
                                             cfg_get<int64_t>(cfg, "gru_layers")));
    fc = register_module("fc", torch::nn::Linear(d, d));
  }
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& lengths) override {
    return fc->forward(gru->forward(tokens, lengths).words);
  }
  WordEncoder gru{nullptr};
  torch::nn::Linear fc{nullptr};
};

std::shared_ptr<TextEncoderImpl> make_text_encoder(const Config& cfg, const Vocab& vocab) {
  if (cfg_get<std::string>(cfg, "text_encoder") == "bert")
    fail("config: text_encoder \"bert\": needs weights from a path you give; not available in this build");
  cfg_choice(cfg, "text_encoder", {"bigru"});
  return std::make_shared<BiGruTextImpl>(cfg, vocab);
}

// Standalone mechanism, one branch (Fig. 4a): cross-attention to the other
// modality (inter-modal A, S), then self-attention within the modality
// (intra-modal A, S) and the feed-forward network, each with residual + LayerNorm.
struct StandaloneBranchImpl : torch::nn::Module {
  explicit StandaloneBranchImpl(const Config& cfg) {
    const int64_t d = cfg_get<int64_t>(cfg, "embed_size");
    const double p = cfg_get<double>(cfg, "dropout");
    cross = register_module("cross",
                            torch::nn::MultiheadAttention(
                                torch::nn::MultiheadAttentionOptions(d, cfg_get<int64_t>(cfg, "heads")).dropout(p)));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    drop = register_module("drop", torch::nn::Dropout(p));
    self = register_module("self", transformer_layer(cfg));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& other, const torch::Tensor& cross_bias,
                        const torch::Tensor& self_bias) {
    torch::Tensor q = x.unsqueeze(1), kv = other.unsqueeze(1);
    torch::Tensor attended = std::get<0>(cross->forward(q, kv, kv, {}, false, cross_bias));
    torch::Tensor y = norm->forward(q + drop->forward(attended));
    return self->forward(y, self_bias).squeeze(1);
  }
  torch::nn::MultiheadAttention cross{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Dropout drop{nullptr};
  torch::nn::TransformerEncoderLayer self{nullptr};
};
TORCH_MODULE(StandaloneBranch);

// Eqs. 8-9: K maxima -> scalar; Linear(K,K)-ReLU-Linear(K,1) as released.
torch::nn::Sequential relevance_mlp(int64_t k) {
  return torch::nn::Sequential(torch::nn::Linear(k, k), torch::nn::ReLU(), torch::nn::Linear(k, 1));
}

class Hrem : public EmbeddingMatcher {
 public:
  Hrem(const Config& config, const Vocab& vocab) : EmbeddingMatcher(config) {
    const int64_t d = cfg_get<int64_t>(config_, "embed_size");
    beta_ = cfg_get<double>(config_, "beta");
    const auto pool = cfg_choice(config_, "max_pool", {"max", "top2"});
    pool_k_ = pool == "max" ? 1 : 2;
    interaction_ = cfg_choice(config_, "interaction", {"fusion", "standalone"});
    tau_ = cfg_get<double>(config_, "tau");
    lambda_ = cfg_get<double>(config_, "lambda");
    sigma_ = cfg_get<double>(config_, "sigma");
    topk_ = cfg_get<int64_t>(config_, "topk");
    reg_weight_ = cfg_get<double>(config_, "reg_weight");
    warmup_steps_ = cfg_get<int64_t>(config_, "warmup_steps");
    // Checkpoints from before these keys trained with hardest negatives and the plain distance.
    const Config before_keys = {{"negatives", "hardest"},
                                {"kernel_distance", "plain"},
                                {"dw_cutoff", 0.5},
                                {"dw_dim", 512},
                                {"dw_nonzero_cutoff", 1.7}};
    for (const auto& [key, value] : before_keys.items())
      if (!config_.contains(key)) config_[key] = value;
    squared_ = cfg_choice(config_, "kernel_distance", {"squared", "plain"}) == "squared";
    distance_weighted_ = cfg_choice(config_, "negatives", {"distance_weighted", "hardest"}) == "distance_weighted";
    weighting_.margin = cfg_get<double>(config_, "margin");
    weighting_.cutoff = cfg_get<double>(config_, "dw_cutoff");
    weighting_.dim = cfg_get<double>(config_, "dw_dim");
    weighting_.nonzero_cutoff = cfg_get<double>(config_, "dw_nonzero_cutoff");
    instance_on_ = warmup_steps_ <= 0;

    regions_ = register_module("regions", RegionProjection(cfg_get<int64_t>(config_, "feature_dim"), d));
    text_ = register_module("text", make_text_encoder(config_, vocab));
    region_layer_ = register_module("region_layer", transformer_layer(config_));
    word_layer_ = register_module("word_layer", transformer_layer(config_));
    mlp_i2t_ = register_module("mlp_i2t", relevance_mlp(topk_));
    mlp_t2i_ = register_module("mlp_t2i", relevance_mlp(topk_));
    if (interaction_ == "fusion") {
      fusion_ = register_module("fusion", transformer_layer(config_));
    } else {
      image_branch_ = register_module("image_branch", StandaloneBranch(config_));
      caption_branch_ = register_module("caption_branch", StandaloneBranch(config_));
    }
  }

  std::string name() const override { return "hrem"; }

  Encoding encode_images(const ImageBatch& batch) override {
    Encoding e;
    e["emb"] = image_side(batch).emb;
    return e;
  }

  Encoding encode_captions(const CaptionBatch& batch) override {
    Encoding e;
    e["emb"] = caption_side(batch).emb;
    return e;
  }

  // The instance-level module joins after the warm-up (released code: 8,000 iterations).
  void on_step(int64_t global_step, int) override { instance_on_ = global_step >= warmup_steps_; }

  bool uses_ranking_loss() const override { return false; }
  LossOutput loss(const ImageBatch& images, const CaptionBatch& captions) override {
    Side img = image_side(images), cap = caption_side(captions);
    const auto& ids = images.ids;
    LossOutput out;
    out.images["emb"] = img.emb;  // encode_images' encoding
    out.total = pair_loss(img.emb.matmul(cap.emb.t()), ids);
    out.terms["triplet"] = out.total.item<double>();
    if (!instance_on_) return out;

    // Eq. 14 on the enhanced embeddings, plus Eq. 11 weighted as released (10).
    Enhanced enh = interact(img, cap);
    torch::Tensor both = pair_loss(enh.images.matmul(enh.captions.t()), ids);
    torch::Tensor mixed =
        pair_loss(img.emb.matmul(enh.captions.t()), ids) + pair_loss(enh.images.matmul(cap.emb.t()), ids);
    out.total = out.total + both + mixed + reg_weight_ * enh.reg;
    out.terms["triplet_enhanced"] = both.item<double>();
    out.terms["triplet_mixed"] = mixed.item<double>();
    out.terms["relevance_kl"] = enh.reg.item<double>();
    return out;
  }

 private:
  struct Side {
    torch::Tensor fragments, mask, emb;  // initial fragments (B, n, d), (B, n), global (B, d) unit
  };
  struct Enhanced {
    torch::Tensor images, captions, reg;
  };

  // Eqs. 2-3: v = beta * MaxPool(R) + (1 - beta) * AvgPool(R^V), l2-normalised
  // (cosine similarity implies it).
  torch::Tensor global(const torch::Tensor& initial, const torch::Tensor& enhanced, const torch::Tensor& mask) const {
    return l2norm(beta_ * top_k_pool(initial, mask, pool_k_) + (1 - beta_) * masked_mean(enhanced, mask));
  }

  Side image_side(const ImageBatch& batch) {
    ImageBatch b = batch.to(device());
    Side s{regions_->forward(b.features), b.region_mask, {}};
    s.emb = global(s.fragments, run_layer(region_layer_, s.fragments, s.mask), s.mask);
    return s;
  }

  Side caption_side(const CaptionBatch& batch) {
    CaptionBatch b = batch.to(device());
    Side s{text_->forward(b.tokens, b.lengths), b.word_mask(), {}};
    s.emb = global(s.fragments, run_layer(word_layer_, s.fragments, s.mask), s.mask);
    return s;
  }

  // Eq. 13 on one score matrix. `negatives`: the paper's distance-weighted
  // sampling, or the shared hardest-negative loss (after the sum warm-up of
  // hardest_negatives(), the VSE-infinity recipe HREM builds on).
  torch::Tensor pair_loss(const torch::Tensor& scores, const std::vector<int64_t>& ids) const {
    if (!distance_weighted_) return ranking_loss(scores, ids);
    return distance_weighted_triplet(scores, positive_pairs(ids, scores.size(0), scores.device()), weighting_);
  }

  // Sec. 3.3: the instance graph over the batch and one interaction layer.
  Enhanced interact(const Side& img, const Side& cap) {
    const int64_t n = img.emb.size(0);
    // Matching on the initial fragments, detached as released: the graph
    // steers the embeddings, it is not trained through the fragments.
    FragmentMatching m = fragment_matching(img.fragments.detach(), img.mask, cap.fragments.detach(), cap.mask, topk_);
    torch::Tensor s_i2t = mlp_i2t_->forward(m.q_i2t).squeeze(-1) + m.p_i2t;  // Eq. 9
    torch::Tensor s_t2i = mlp_t2i_->forward(m.q_t2i).squeeze(-1) + m.p_t2i;
    InstanceGraph g = build_graph(img.emb, cap.emb, m.p_i2t, m.p_t2i, s_i2t, s_t2i, tau_, sigma_, squared_);
    torch::Tensor bias = g.attention_bias(lambda_);  // Eq. 12

    Enhanced out;
    if (interaction_ == "fusion") {
      torch::Tensor nodes = fusion_->forward(torch::cat({img.emb, cap.emb}, 0).unsqueeze(1), bias).squeeze(1);
      out.images = l2norm(nodes.slice(0, 0, n));
      out.captions = l2norm(nodes.slice(0, n));
    } else {
      torch::Tensor top = bias.slice(0, 0, n), bottom = bias.slice(0, n);
      out.images = l2norm(image_branch_->forward(img.emb, cap.emb, top.slice(1, n), top.slice(1, 0, n)));
      out.captions = l2norm(caption_branch_->forward(cap.emb, img.emb, bottom.slice(1, 0, n), bottom.slice(1, n)));
    }
    // Eq. 11: the learned inter-modal relevance stays close (row softmax, KL,
    // batch mean) to the kernel of the global embeddings, which guides without gradient.
    torch::Tensor guide = gaussian_kernel(img.emb, cap.emb, sigma_, squared_).detach();
    out.reg = kl_rows(s_i2t, guide) + kl_rows(s_t2i, guide.t());
    return out;
  }

  // KL(softmax(learned) || softmax(guide)) per row, averaged over rows, the
  // direction of the released code's F.kl_div(log_softmax(guide), softmax(learned)).
  static torch::Tensor kl_rows(const torch::Tensor& learned, const torch::Tensor& guide) {
    torch::Tensor log_p = torch::log_softmax(learned, 1);
    return (log_p.exp() * (log_p - torch::log_softmax(guide, 1))).sum() / learned.size(0);
  }

  double beta_, tau_, lambda_, sigma_, reg_weight_;
  int64_t pool_k_, topk_, warmup_steps_;
  bool instance_on_, squared_, distance_weighted_;
  DistanceWeighting weighting_;
  std::string interaction_;
  RegionProjection regions_{nullptr};
  std::shared_ptr<TextEncoderImpl> text_;
  torch::nn::TransformerEncoderLayer region_layer_{nullptr}, word_layer_{nullptr}, fusion_{nullptr};
  torch::nn::Sequential mlp_i2t_{nullptr}, mlp_t2i_{nullptr};
  StandaloneBranch image_branch_{nullptr}, caption_branch_{nullptr};
};

Config hrem_preset(const std::string& preset) {
  const PresetName name = model_preset("hrem", preset, {"paper", "release", "paper-coco", "release-coco", "cpu"});
  Config cfg = base_preset(preset);
  cfg["text_encoder"] = "bigru";
  cfg["gru_layers"] = 1;
  cfg["interaction"] = "fusion";  // the paper's default ablation setting
  cfg["beta"] = 0.8;
  cfg["tau"] = 0.5;
  cfg["sigma"] = 1.0;
  cfg["topk"] = 10;
  cfg["reg_weight"] = 10.0;  // not in the paper: released
  cfg["dropout"] = 0.1;
  // Eq. 13: distance-weighted sampling (paper and release); the release's constants.
  cfg["negatives"] = "distance_weighted";
  cfg["dw_cutoff"] = 0.5;
  cfg["dw_dim"] = 512;
  cfg["dw_nonzero_cutoff"] = name.coco ? 1.9 : 1.7;
  if (name.family == "release") {
    cfg["max_pool"] = "top2";          // the release's max-k pooling, k = 2
    cfg["kernel_distance"] = "plain";  // the release's cdist, not squared
    cfg["lambda"] = 1.0;               // the release's mask_weight
  } else {
    cfg["max_pool"] = "max";             // Eq. 2
    cfg["kernel_distance"] = "squared";  // Eqs. 10-11
    cfg["lambda"] = 1.5;                 // Sec. 4.1
  }
  if (name.family == "cpu") {
    // 3,000 images x 5 captions at batch 128: 118 steps an epoch; the
    // instance module joins after 2 of 12 epochs, near the released ratio.
    cfg["heads"] = 4;
    cfg["ff_dim"] = 256;
    cfg["warmup_steps"] = 240;
    return cfg;
  }
  // Not in the paper, released: AdamW's lr 5e-4 divided by 10 at epochs 15 and 25 of 30, 16 heads, FFN = d.
  cfg["lr"] = 5e-4;
  cfg["lr_milestones"] = {15, 25};
  cfg.erase("lr_update");  // the milestones are the schedule
  cfg["heads"] = 16;
  cfg["ff_dim"] = 1024;
  cfg["warmup_steps"] = 8000;                 // about 7 of 30 Flickr30K epochs at batch 128
  cfg["batch_size"] = name.coco ? 256 : 128;  // Sec. 4.1
  return cfg;
}

// Score: the cosine of the global vectors, one GEMM per block.
const bool kRegistered = register_model<Hrem>(
    "hrem",
    "HREM: fragment Transformer layers, max+avg pooled global vectors, cosine; training-only instance graph "
    "attention (fusion or standalone) with cross-embedding triplet losses",
    hrem_preset, embedding_score_flops);

}  // namespace
}  // namespace hrem
}  // namespace sm
