// SGM (Wang et al., "Cross-modal Scene Graph Matching for Relationship-aware
// Image-Text Retrieval"): a visual scene graph encoded by a one-layer
// multi-modal GCN, a textual scene graph encoded by a word-level and a
// path-level BiGRU, and a two-level score: object level (words vs object
// nodes) plus relation level (triplet paths vs relation nodes). Decisions on
// the paper's gaps are marked "Decision" here and tabled in docs/models/sgm.md.
#include "scenematch/models/sgm.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "scenematch/models/first_stage_head.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/matcher.h"
#include "scenematch/models/presets.h"

namespace sm {
namespace {

// Stands in for absent nodes before a max: below any dot product of unit vectors.
constexpr double kAbsent = -1e4;
// Bound on the (captions, queries, images, nodes) similarity tensor that score() holds at once.
constexpr int64_t kChunkElements = int64_t(1) << 23;

// Mean of the word embeddings of each (possibly multi-word) label: ids (B, N, W), 0-padded -> (B, N, d).
// Decision: multi-word labels and predicates ("next to") are the mean of their words' vectors.
torch::Tensor label_embedding(torch::nn::Embedding& table, const torch::Tensor& ids) {
  auto present = (ids != Vocab::kPad).unsqueeze(-1).to(table->weight.dtype());
  return (table->forward(ids) * present).sum(2) / present.sum(2).clamp_min(1.0);
}

// Rows idx (B, N) of x (B, M, d) -> (B, N, d).
torch::Tensor gather_rows(const torch::Tensor& x, const torch::Tensor& idx) {
  return x.gather(1, idx.unsqueeze(-1).expand({idx.size(0), idx.size(1), x.size(2)}));
}

// For every caption c and image i: mean over c's present queries of the max over i's present nodes of
// the dot product (Eqs. 6 and 7). queries (Nc, L, D), nodes (Ni, N, D) -> (Nc, Ni). All queries of a
// caption chunk meet all nodes of the image block in one GEMM.
torch::Tensor max_mean_scores(const torch::Tensor& queries, const torch::Tensor& query_mask, const torch::Tensor& nodes,
                              const torch::Tensor& node_mask) {
  const int64_t nc = queries.size(0), nq = queries.size(1), ni = nodes.size(0), nn = nodes.size(1);
  const int64_t dim = nodes.size(2);
  if (nc == 0 || ni == 0 || nq == 0 || nn == 0) return torch::zeros({nc, ni}, nodes.options());
  const torch::Tensor nodes_t = nodes.reshape({ni * nn, dim}).t();
  // Nothing to fill when every node is present (the usual 36 regions).
  const bool all_present = node_mask.all().item<bool>();
  const torch::Tensor absent = (~node_mask).view({1, 1, ni, nn});
  torch::Tensor weights = query_mask.to(queries.dtype());
  weights = weights / weights.sum(1, /*keepdim=*/true).clamp_min(1.0);  // masked mean over queries
  const int64_t chunk = std::max<int64_t>(1, kChunkElements / (nq * ni * nn));
  std::vector<torch::Tensor> parts;
  for (int64_t c0 = 0; c0 < nc; c0 += chunk) {
    const int64_t c1 = std::min(nc, c0 + chunk);
    torch::Tensor sims = queries.slice(0, c0, c1).reshape({-1, dim}).matmul(nodes_t).view({c1 - c0, nq, ni, nn});
    if (!all_present) sims = sims.masked_fill(absent, kAbsent);
    torch::Tensor best = sims.amax(3);                                                    // (n, L, Ni)
    parts.push_back(torch::bmm(weights.slice(0, c0, c1).unsqueeze(1), best).squeeze(1));  // (n, Ni)
  }
  return torch::cat(parts, 0);
}

class Sgm : public Matcher {
 public:
  Sgm(const Config& config, const Vocab& vocab) : Matcher(config) {
    embed_size_ = cfg_get<int64_t>(config_, "embed_size");
    word_dim_ = cfg_get<int64_t>(config_, "word_dim");
    relations_ = parse_relation_source(cfg_get<std::string>(config_, "relations", "auto"), "config key 'relations'");
    // Checkpoints from before the `relations` key turned the relation branch off with relation_level=false.
    if (!cfg_get<bool>(config_, "relation_level", true)) relations_ = RelationSource::None;
    relation_level_ = relations_ != RelationSource::None;
    // Checkpoints from before the `missing_relation_level` key scored a missing relation level as 0.
    if (!config_.contains("missing_relation_level")) config_["missing_relation_level"] = "zero";
    object_stands_in_ = cfg_choice(config_, "missing_relation_level", {"object", "zero"}) == "object";
    const int64_t feature_dim = cfg_get<int64_t>(config_, "feature_dim");

    // Textual scene graph encoder (Eqs. 4-5): W_e, the word-level BiGRU, and a separate path-level BiGRU.
    words_ = register_module("words", WordEncoder(vocab.size(), word_dim_, embed_size_));
    // Decision: the path-level BiGRU reads the shared W_e embeddings (Fig. 4: "after embedding each word
    // ... by the word embedding layer"), so its own table is dropped.
    paths_ = register_module("paths", WordEncoder(1, word_dim_, embed_size_));
    paths_->unregister_module("embed");
    paths_->embed = nullptr;

    // Label embeddings W_o, W_r over the word vocabulary. Decision: with no word2vec here, they start as
    // copies of W_e, which keeps the paper's property that a label and the same word in a caption start
    // from one vector; all three are then trained apart.
    object_labels_ = register_module("object_labels", torch::nn::Embedding(vocab.size(), word_dim_));
    predicate_labels_ = register_module("predicate_labels", torch::nn::Embedding(vocab.size(), word_dim_));
    {
      torch::NoGradGuard no_grad;
      object_labels_->weight.copy_(words_->embed->weight);
      predicate_labels_->weight.copy_(words_->embed->weight);
    }

    // Multi-modal fusion W_u (Eqs. 1-2), shared by objects and relations as printed, F + d2 -> F
    // (d1 = F). Decision: the 2048 -> 1024 reduction happens in g_o / g_r; layers keep their bias.
    fuse_ = register_module("fuse", torch::nn::Linear(feature_dim + word_dim_, feature_dim));
    // One GCN layer (Eq. 3): g_o on the node itself, g_r on [subject; relation; object].
    object_gcn_ = register_module("object_gcn", torch::nn::Linear(feature_dim, embed_size_));
    relation_gcn_ = register_module("relation_gcn", torch::nn::Linear(3 * feature_dim, embed_size_));
    first_stage_ = make_first_stage_head(*this, config_, embed_size_);
  }

  std::string name() const override { return "sgm"; }
  DataNeeds needs() const override {
    DataNeeds n;
    n.parses = true;
    n.scene_graphs = true;  // also with relations=none: the object labels of S_vsg.jsonl, when it exists
    n.relations = relations_;
    return n;
  }

  Encoding encode_images(const ImageBatch& batch) override {
    ImageBatch b = batch.to(device());
    const torch::Tensor& features = b.features;  // (B, R, F)
    const int64_t B = features.size(0), R = features.size(1);

    // Decision: object nodes are the image's regions (in the paper the scene-graph boxes are the regions).
    // A region's label is the mean label embedding of the VSG objects on it, zero when it has none, so an
    // empty or partial VSG leaves every region in play.
    torch::Tensor labels = torch::zeros({B, R, word_dim_}, features.options());
    if (b.obj_mask.defined() && b.obj_mask.size(1) > 0) {
      const int64_t O = b.obj_mask.size(1);
      torch::Tensor present = b.obj_mask.unsqueeze(-1).to(features.dtype());
      torch::Tensor region = b.obj_region.masked_fill(~b.obj_mask, 0).unsqueeze(-1);
      torch::Tensor sums = labels.scatter_add(1, region.expand({B, O, word_dim_}),
                                              label_embedding(object_labels_, b.obj_label) * present);
      torch::Tensor counts = torch::zeros({B, R, 1}, features.options()).scatter_add(1, region, present);
      labels = sums / counts.clamp_min(1.0);
    }
    torch::Tensor objects_u = torch::tanh(fuse_(torch::cat({features, labels}, -1)));  // Eq. 1: h^0_o

    Encoding e;
    e["objects"] = l2norm(torch::tanh(object_gcn_(objects_u)));  // Eq. 3, g_o
    e["object_mask"] = b.region_mask;

    const int64_t P = b.rel_mask.defined() && relation_level_ ? b.rel_mask.size(1) : 0;
    if (P == 0) {
      e["relations"] = torch::zeros({B, 0, embed_size_}, features.options());
      e["relation_mask"] = torch::zeros({B, 0}, b.region_mask.options());
      return e;
    }
    torch::Tensor subject = b.rel_subject.masked_fill(~b.rel_mask, 0);
    torch::Tensor object = b.rel_object.masked_fill(~b.rel_mask, 0);
    // Union-box features when S_vsg_rel.npy exists. Decision: otherwise the mean of the two regions'
    // features stands in for the union box.
    torch::Tensor visual =
        b.rel_feature.defined() ? b.rel_feature : (gather_rows(features, subject) + gather_rows(features, object)) / 2;
    torch::Tensor relations_u =
        torch::tanh(fuse_(torch::cat({visual, label_embedding(predicate_labels_, b.rel_predicate)}, -1)));  // Eq. 2
    // Eq. 3, g_r. Decision: the three inputs are concatenated in the order [subject; relation; object].
    torch::Tensor relations = torch::tanh(
        relation_gcn_(torch::cat({gather_rows(objects_u, subject), relations_u, gather_rows(objects_u, object)}, -1)));
    e["relations"] = l2norm(relations);
    e["relation_mask"] = b.rel_mask;
    return e;
  }

  Encoding encode_captions(const CaptionBatch& batch) override {
    CaptionBatch b = batch.to(device());
    Encoding e;
    // Decision: every node feature is L2-normalised, so each level is a mean of cosines in [-1, 1] (the
    // scale margin 0.2 was set for in VSE++/SCAN, which the released code builds on).
    e["words"] = l2norm(words_->forward(b.tokens, b.lengths).words);  // Eq. 4: textual objects
    e["word_mask"] = b.word_mask();

    const int64_t B = b.tokens.size(0);
    const int64_t T = b.triplets.defined() && relation_level_ ? b.triplets.size(1) : 0;
    torch::Tensor paths = torch::zeros({B * T, embed_size_}, words_->embed->weight.options());
    torch::Tensor present = torch::zeros({B * T}, b.lengths.options().dtype(torch::kBool));
    if (T > 0) {
      present = (b.triplet_mask & (b.triplet_lengths > 0)).reshape(-1);
      torch::Tensor idx = present.nonzero().squeeze(1);
      if (idx.numel() > 0) {
        torch::Tensor tokens = b.triplets.reshape({B * T, -1}).index_select(0, idx);
        torch::Tensor lengths = b.triplet_lengths.reshape(-1).index_select(0, idx);
        // Eq. 5: h_p = mean of the last forward and backward states over "subject predicate object".
        torch::Tensor last = paths_->run(words_->embed->forward(tokens), lengths).final;
        paths = paths.index_copy(0, idx, l2norm(last));  // normalised before padding: no 0/0
      }
    }
    e["paths"] = paths.view({B, T, embed_size_});
    e["path_mask"] = present.view({B, T});
    return e;
  }

  torch::Tensor score(const Encoding& images, const Encoding& captions) override {
    const torch::Tensor& objects = images.at("objects");
    const torch::Device dev = objects.device();
    const torch::Tensor path_mask = captions.at("path_mask").to(dev);
    const torch::Tensor relation_mask = images.at("relation_mask");
    // Eq. 6: object level, (Nc, Ni).
    torch::Tensor total = max_mean_scores(captions.at("words").to(dev), captions.at("word_mask").to(dev), objects,
                                          images.at("object_mask"));
    // Eq. 7: relation level. A pair whose caption has no triplet or whose image has no relation node has
    // none. Decision (`missing_relation_level`): its object level stands in for it, S = 2 S^o, so such a
    // caption competes on the scale of the others in image-to-text ranking, as it does in text-to-image
    // ranking; "zero" (S^r = 0, S = S^o) left those captions a whole term behind the others.
    torch::Tensor used = path_mask.any(1).unsqueeze(1) & relation_mask.any(1).unsqueeze(0);
    torch::Tensor relation =
        max_mean_scores(captions.at("paths").to(dev), path_mask, images.at("relations"), relation_mask);
    total = total + torch::where(used, relation, object_stands_in_ ? total : torch::zeros_like(total));  // S^o + S^r
    return total.t();
  }

  LossOutput loss(const ImageBatch& images, const CaptionBatch& captions) override {
    return first_stage_ ? ranking_loss_with_head(*this, *first_stage_, images, captions)
                        : Matcher::loss(images, captions);
  }

  // SGM's score is not a dot product of global vectors. The first-stage head's vectors of the object nodes
  // and words (first_stage_head.h); without a head, a proxy: the mean object node and the mean word.
  torch::Tensor global_embedding(const Encoding& encoding, bool is_image) const override {
    const torch::Tensor& nodes = encoding.at(is_image ? "objects" : "words");
    const torch::Tensor& mask = encoding.at(is_image ? "object_mask" : "word_mask");
    return first_stage_ ? first_stage_->embed(nodes, mask, is_image) : l2norm(masked_mean(nodes, mask));
  }

 private:
  int64_t embed_size_ = 0, word_dim_ = 0;
  RelationSource relations_ = RelationSource::Auto;
  bool relation_level_ = true, object_stands_in_ = true;
  WordEncoder words_{nullptr}, paths_{nullptr};
  torch::nn::Embedding object_labels_{nullptr}, predicate_labels_{nullptr};
  torch::nn::Linear fuse_{nullptr}, object_gcn_{nullptr}, relation_gcn_{nullptr};
  FirstStageHead first_stage_{nullptr};
};

Config sgm_preset(const std::string& preset) {
  const PresetName name = model_preset("sgm", preset, {"paper", "paper-coco", "cpu"});
  Config cfg = base_preset(preset);
  // Where the visual relations come from: auto (S_vsg.jsonl, else derived from boxes, else from features),
  // given, boxes, features, or none (object level only: the paper's OOM ablation).
  cfg["relations"] = "auto";
  cfg["missing_relation_level"] = "object";  // not in the paper (spec B.10: unspecified); see score()
  add_first_stage_preset(cfg, preset);       // not in the paper; docs/models/sgm.md
  if (name.family == "paper") {
    // Sec. 4.2: encoders 1024-d, word vectors 300-d, Adam, batch 200 (both datasets), margin 0.2. Epochs,
    // schedule and clipping are not given: the SCAN-family values of base_preset stay.
    cfg["batch_size"] = 200;
    cfg["lr"] = name.coco ? 5e-4 : 2e-4;  // Sec. 4.2: "0.0005 for MS COCO and 0.0002 for Flickr30k"
  } else {
    // Converged by epoch 4 on the small world (docs/models/sgm.md), so the
    // rate never decays within the run.
    cfg["epochs"] = 4;
    cfg["lr_update"] = 7;
    // Not in the paper. Over 3 seeds they lift the hard world's relation swaps (82.5 -> 86.0%) and both
    // worlds' counts at the same rSum (+0.1%, +0.4%), for 2-4x the training time (docs/models.md).
    cfg["hard_negatives"] = true;
  }
  return cfg;
}

// Words x object nodes, then triplet paths x relation nodes.
double sgm_score_flops(const Config& config, const PairShape& s) {
  return 2 * cfg_get<double>(config, "embed_size") * (s.words * s.regions + s.triplets * s.relations);
}

const bool kRegistered = register_model<Sgm>(
    "sgm",
    "SGM: visual scene graph (multi-modal GCN) vs textual scene graph (word and triplet-path BiGRUs), "
    "object-level plus relation-level max-mean dot products, hardest-negative triplet loss",
    sgm_preset, sgm_score_flops);

// Mean over present queries of the max over present nodes of <query, node>, in double; false when either
// side has nothing present.
bool reference_level(const torch::Tensor& queries, const torch::Tensor& query_mask, const torch::Tensor& nodes,
                     const torch::Tensor& node_mask, double& value) {
  auto q = queries.to(torch::kCPU, torch::kDouble).contiguous();
  auto n = nodes.to(torch::kCPU, torch::kDouble).contiguous();
  auto qm = query_mask.to(torch::kCPU).contiguous();
  auto nm = node_mask.to(torch::kCPU).contiguous();
  auto qa = q.accessor<double, 2>();
  auto na = n.accessor<double, 2>();
  auto qma = qm.accessor<bool, 1>();
  auto nma = nm.accessor<bool, 1>();
  double sum = 0;
  int64_t count = 0;
  for (int64_t t = 0; t < q.size(0); ++t) {
    if (!qma[t]) continue;
    double best = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < n.size(0); ++j) {
      if (!nma[j]) continue;
      double dot = 0;
      for (int64_t k = 0; k < q.size(1); ++k) dot += qa[t][k] * na[j][k];
      best = std::max(best, dot);
    }
    if (std::isinf(best)) return false;  // no node present
    sum += best;
    ++count;
  }
  if (count == 0) return false;
  value = sum / double(count);
  return true;
}

}  // namespace

namespace sgm {
PairScore reference_score(const Encoding& images, int64_t i, const Encoding& captions, int64_t c,
                          const std::string& missing_relation_level) {
  PairScore s;
  if (!reference_level(captions.at("words")[c], captions.at("word_mask")[c], images.at("objects")[i],
                       images.at("object_mask")[i], s.object))
    s.object = 0;
  s.relation_used = reference_level(captions.at("paths")[c], captions.at("path_mask")[c], images.at("relations")[i],
                                    images.at("relation_mask")[i], s.relation);
  if (!s.relation_used) s.relation = 0;
  s.total = s.object + (s.relation_used ? s.relation : missing_relation_level == "object" ? s.object : 0.0);
  return s;
}
}  // namespace sgm

}  // namespace sm
