// Mini-batches as tensors, the only thing models see. Built by the batcher on
// the CPU; Matcher implementations move them to their own device.
// Shapes use B = batch size, R = regions, F = feature dim, L = max tokens,
// O = max scene-graph objects, P = max relations, T = max triplets, W = max
// words of a predicate/triplet path. Masks are bool, true = present.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "scenematch/data/relation_source.h"

namespace sm {

// What a model needs from the data beyond region features and token ids.
struct DataNeeds {
  bool parses = false;  // POS tags, dependency edges, triplets (runs the caption parser)
  // With parses: dependency edges from SPLIT_caps.json (GSMN's release format)
  // instead of the parser, which then does not run on the split's captions.
  bool given_dependencies = false;
  bool boxes = false;         // S_ims_bbx.npy + S_ims_size.npy
  bool scene_graphs = false;  // S_vsg.jsonl (and S_vsg_rel.npy when present), or a derived graph
  // With scene_graphs: where the relations come from (derived ones when S_vsg.jsonl is absent).
  RelationSource relations = RelationSource::Auto;
};

struct ImageBatch {
  std::vector<int64_t> ids;   // image index in the split
  torch::Tensor features;     // (B, R, F) float32
  torch::Tensor region_mask;  // (B, R) bool
  torch::Tensor boxes;        // (B, R, 4) float32 x1,y1,x2,y2 divided by width/height, in [0,1]; undefined if absent
  // Visual scene graph (undefined tensors when the split has no S_vsg.jsonl).
  torch::Tensor obj_region;     // (B, O) int64 region index of each object
  torch::Tensor obj_label;      // (B, O, W) int64 vocab ids of the label words (0-padded)
  torch::Tensor obj_mask;       // (B, O) bool
  torch::Tensor rel_subject;    // (B, P) int64 region index of the subject
  torch::Tensor rel_object;     // (B, P) int64 region index of the object
  torch::Tensor rel_predicate;  // (B, P, W) int64 vocab ids of the predicate words (0-padded)
  torch::Tensor rel_feature;    // (B, P, F) float32 union-box features; undefined without S_vsg_rel.npy or unions
  torch::Tensor rel_mask;       // (B, P) bool

  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  ImageBatch to(const torch::Device& device) const;
};

struct CaptionBatch {
  std::vector<int64_t> ids;  // caption index in the split (or probe index)
  torch::Tensor tokens;      // (B, L) int64 vocab ids, 0-padded
  torch::Tensor lengths;     // (B) int64, >= 1
  torch::Tensor pos;         // (B, L) int64 Pos id + 1, 0 = pad; undefined without parses
  torch::Tensor adjacency;  // (B, L, L) float32 symmetric 0/1 dependency edges, no self-loops; undefined without parses
  torch::Tensor triplets;   // (B, T, W) int64 vocab ids of "subject predicate object" words; undefined without parses
  torch::Tensor triplet_lengths;  // (B, T) int64, 0 for absent triplets
  torch::Tensor triplet_mask;     // (B, T) bool

  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  torch::Tensor word_mask() const;  // (B, L) bool from lengths
  CaptionBatch to(const torch::Device& device) const;
};

}  // namespace sm
