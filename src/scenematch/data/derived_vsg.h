// A visual scene graph derived from what every precomp folder has, for splits
// without S_vsg.jsonl: relation candidates from the region boxes (or, without
// boxes, from region feature similarity), ranked and bounded per image, with a
// geometric predicate where the boxes make one clear. The choices and their
// reasons are tabled in docs/models/sgm.md ("Derived visual scene graph").
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "scenematch/data/dataset.h"

namespace sm {

struct DeriveOptions {
  int max_relations = 25;  // relation nodes kept per image, best-ranked first (the paper's N_r)
  int neighbours = 3;      // each region's nearest (or most similar) regions that become candidates
};

// One image: boxes (R, 4) x1, y1, x2, y2 in pixels of a width x height image. Relations run from the
// smaller region (subject) to the larger (object); `union_region` is set where a region covers the pair's
// union box. No objects (the boxes carry no class).
SceneGraph derive_from_boxes(const torch::Tensor& boxes, float width, float height, const DeriveOptions& options = {});

// One image without boxes: features (R, F). Pairs of the most similar regions, no predicate, subject = the
// region listed first.
SceneGraph derive_from_features(const torch::Tensor& features, const DeriveOptions& options = {});

// Every image of a loaded split, from its boxes (Boxes: split.boxes and split.sizes loaded) or features.
std::vector<SceneGraph> derive_scene_graphs(const Split& split, RelationSource source,
                                            const DeriveOptions& options = {});

// The geometric predicate of subject box s against object box o (x1, y1, x2, y2; y grows downwards):
// "inside", "on", "under", "in front of", "behind", "next to", or "" when the boxes make none clear.
std::string box_predicate(const float* s, const float* o);

}  // namespace sm
