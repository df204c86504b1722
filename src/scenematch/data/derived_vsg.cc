#include "scenematch/data/derived_vsg.h"

#include <sys/stat.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "scenematch/core/error.h"

namespace sm {

RelationSource parse_relation_source(const std::string& name, const std::string& what) {
  for (RelationSource s : {RelationSource::Auto, RelationSource::Given, RelationSource::Boxes, RelationSource::Features,
                           RelationSource::None})
    if (name == relation_source_name(s)) return s;
  fail(what, ": unknown relation source '", name, "'; expected auto, given, boxes, features or none");
}

const char* relation_source_name(RelationSource source) {
  switch (source) {
    case RelationSource::Auto:
      return "auto";
    case RelationSource::Given:
      return "given";
    case RelationSource::Boxes:
      return "boxes";
    case RelationSource::Features:
      return "features";
    case RelationSource::None:
      return "none";
  }
  return "?";
}

const char* describe_relation_source(RelationSource source) {
  switch (source) {
    case RelationSource::Auto:
      return "auto";
    case RelationSource::Given:
      return "given (S_vsg.jsonl)";
    case RelationSource::Boxes:
      return "derived from boxes";
    case RelationSource::Features:
      return "derived from features";
    case RelationSource::None:
      return "none";
  }
  return "?";
}

RelationSource resolve_relation_source(const std::string& dir, const std::string& split, RelationSource requested) {
  if (requested != RelationSource::Auto) return requested;
  auto exists = [&](const char* suffix) {
    struct stat st {};
    return ::stat((dir + "/" + split + "_" + suffix).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  };
  if (exists("vsg.jsonl")) return RelationSource::Given;
  if (exists("ims_bbx.npy") && exists("ims_size.npy")) return RelationSource::Boxes;
  return RelationSource::Features;
}

namespace {

// Boxes as x1, y1, x2, y2 (y downwards).
float width(const float* b) { return b[2] - b[0]; }
float height(const float* b) { return b[3] - b[1]; }
float area(const float* b) { return width(b) * height(b); }
float centre_y(const float* b) { return 0.5f * (b[1] + b[3]); }
float overlap(float a1, float a2, float b1, float b2) { return std::max(0.0f, std::min(a2, b2) - std::max(a1, b1)); }
float intersection(const float* a, const float* b) {
  return overlap(a[0], a[2], b[0], b[2]) * overlap(a[1], a[3], b[1], b[3]);
}
float iou(const float* a, const float* b) {
  const float inter = intersection(a, b);
  const float uni = area(a) + area(b) - inter;
  return uni > 0 ? inter / uni : 0.0f;
}
// Distance between the two boxes' closest points; 0 when they touch or overlap.
float gap(const float* a, const float* b) {
  const float dx = std::max(0.0f, std::max(a[0], b[0]) - std::min(a[2], b[2]));
  const float dy = std::max(0.0f, std::max(a[1], b[1]) - std::min(a[3], b[3]));
  return std::hypot(dx, dy);
}

// Decision: above this IoU two proposals are the same object seen twice (bottom-up detectors keep such
// near-duplicates), and a relation between them says nothing.
constexpr float kDuplicateIou = 0.7f;
// Decision: a region stands in for a pair's union box when it matches that box at least this well.
constexpr float kUnionIou = 0.7f;
// Decision: feature twins (cosine above this) are the same object, like box near-duplicates.
constexpr float kDuplicateCosine = 0.95f;

struct Candidate {
  int64_t a, b;  // a < b
  float score;
};

// Best-ranked first, ties by region order, at most `keep`.
void rank(std::vector<Candidate>& candidates, int keep) {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& x, const Candidate& y) {
    if (x.score != y.score) return x.score > y.score;
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  if (static_cast<int>(candidates.size()) > keep) candidates.resize(std::max(0, keep));
}

// Pairs (a, b), a < b, where b is among a's `k` best regions by `closeness` (larger = closer) or a among
// b's; `allowed(a, b)` filters pairs first.
template <class Closeness, class Allowed>
std::vector<std::vector<bool>> neighbour_pairs(int64_t n, int k, Closeness closeness, Allowed allowed) {
  std::vector<std::vector<bool>> chosen(n, std::vector<bool>(n, false));
  std::vector<int64_t> order;
  for (int64_t a = 0; a < n; ++a) {
    order.clear();
    for (int64_t b = 0; b < n; ++b)
      if (b != a && allowed(std::min(a, b), std::max(a, b))) order.push_back(b);
    const size_t take = std::min<size_t>(order.size(), static_cast<size_t>(std::max(0, k)));
    std::partial_sort(order.begin(), order.begin() + take, order.end(), [&](int64_t x, int64_t y) {
      const float cx = closeness(a, x), cy = closeness(a, y);
      return cx != cy ? cx > cy : x < y;
    });
    for (size_t i = 0; i < take; ++i) chosen[std::min(a, order[i])][std::max(a, order[i])] = true;
  }
  return chosen;
}

// One image's cosine similarities (R, R): each region's most similar regions, feature twins skipped,
// ranked by similarity. Decision: without geometry nothing says which end is the subject, so it is the
// region listed first; no predicate.
SceneGraph derive_from_similarity(const torch::Tensor& similarity, const DeriveOptions& options) {
  const int64_t n = similarity.size(0);
  auto sim = similarity.accessor<float, 2>();
  auto allowed = [&](int64_t a, int64_t c) { return sim[a][c] <= kDuplicateCosine; };
  auto closeness = [&](int64_t a, int64_t c) { return sim[a][c]; };
  const auto near = neighbour_pairs(n, options.neighbours, closeness, allowed);
  std::vector<Candidate> candidates;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t c = a + 1; c < n; ++c)
      if (near[a][c]) candidates.push_back({a, c, sim[a][c]});
  rank(candidates, options.max_relations);
  SceneGraph g;
  for (const Candidate& c : candidates) {
    VsgRelation r;
    r.subject = c.a;
    r.object = c.b;
    g.relations.push_back(std::move(r));
  }
  return g;
}

}  // namespace

std::string box_predicate(const float* s, const float* o) {
  const float x_overlap = overlap(s[0], s[2], o[0], o[2]) / std::max(std::min(width(s), width(o)), 1e-6f);
  const float y_overlap = overlap(s[1], s[3], o[1], o[3]) / std::max(std::min(height(s), height(o)), 1e-6f);
  const float tolerance = 0.1f * std::min(height(s), height(o));
  const float contained = intersection(s, o) / std::max(area(s), 1e-12f);
  const bool grounded = s[3] >= o[3] - tolerance;  // s's bottom on or below o's bottom line
  // Checked in this order; each test is what the word means for two boxes in a photograph, where the
  // nearer of two things on the ground has the lower bottom edge.
  if (x_overlap >= 0.5f && s[1] >= centre_y(o) && grounded) return "under";  // a dog under a table
  if (contained >= 0.9f && area(s) <= 0.5f * area(o) && !grounded) return "inside";
  if (x_overlap >= 0.5f && centre_y(s) < o[1] && s[3] >= o[1] - tolerance && s[3] <= centre_y(o)) return "on";
  if (intersection(s, o) > 0 && contained < 0.9f && y_overlap >= 0.5f) {
    if (s[3] > o[3] + tolerance) return "in front of";
    if (s[3] < o[3] - tolerance) return "behind";
  }
  if (iou(s, o) < 0.1f && x_overlap < 0.2f && y_overlap >= 0.5f && gap(s, o) <= std::max(width(s), width(o)))
    return "next to";
  return "";
}

SceneGraph derive_from_boxes(const torch::Tensor& boxes, float image_width, float image_height,
                             const DeriveOptions& options) {
  const torch::Tensor b = boxes.to(torch::kFloat).contiguous();
  const int64_t n = b.size(0);
  const float* box = b.data_ptr<float>();
  auto at = [&](int64_t r) { return box + 4 * r; };
  const float image_area = std::max(image_width * image_height, 1e-12f);

  auto allowed = [&](int64_t a, int64_t c) {
    return area(at(a)) > 0 && area(at(c)) > 0 && iou(at(a), at(c)) <= kDuplicateIou;
  };
  // Nearest by the gap between the boxes, then by area (the larger neighbour first).
  auto closeness = [&](int64_t a, int64_t c) { return -gap(at(a), at(c)) + 1e-6f * area(at(c)) / image_area; };
  const auto near = neighbour_pairs(n, options.neighbours, closeness, allowed);

  std::vector<Candidate> candidates;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t c = a + 1; c < n; ++c) {
      if (!allowed(a, c) || !(near[a][c] || intersection(at(a), at(c)) > 0)) continue;
      // Decision: close pairs of large regions first. Proximity is the gap in units of the smaller box's
      // side; size is the geometric mean of the two area fractions, damped (fourth root) so that it breaks
      // ties between near pairs more than it outranks nearness.
      const float side = std::sqrt(std::min(area(at(a)), area(at(c))));
      const float proximity = 1.0f / (1.0f + gap(at(a), at(c)) / side);
      const float size = std::pow(area(at(a)) / image_area * area(at(c)) / image_area, 0.25f);
      candidates.push_back({a, c, proximity * size});
    }
  rank(candidates, options.max_relations);

  SceneGraph g;
  for (const Candidate& c : candidates) {
    // Decision: the smaller region is the subject (the figure against the ground: "cup on table",
    // "dog next to man"), ties to the region listed first.
    const bool a_smaller = area(at(c.a)) <= area(at(c.b));
    VsgRelation r;
    r.subject = a_smaller ? c.a : c.b;
    r.object = a_smaller ? c.b : c.a;
    r.predicate = box_predicate(at(r.subject), at(r.object));
    const float* s = at(r.subject);
    const float* o = at(r.object);
    const float u[4] = {std::min(s[0], o[0]), std::min(s[1], o[1]), std::max(s[2], o[2]), std::max(s[3], o[3])};
    float best = std::max({kUnionIou, iou(s, u), iou(o, u)});
    for (int64_t k = 0; k < n; ++k) {
      if (k == r.subject || k == r.object) continue;
      const float fit = iou(at(k), u);
      if (fit > best) {
        best = fit;
        r.union_region = k;
      }
    }
    g.relations.push_back(std::move(r));
  }
  return g;
}

SceneGraph derive_from_features(const torch::Tensor& features, const DeriveOptions& options) {
  const torch::Tensor unit = torch::nn::functional::normalize(features.to(torch::kFloat),
                                                              torch::nn::functional::NormalizeFuncOptions().dim(1));
  return derive_from_similarity(unit.matmul(unit.t()).contiguous(), options);
}

std::vector<SceneGraph> derive_scene_graphs(const Split& split, RelationSource source, const DeriveOptions& options) {
  std::vector<SceneGraph> graphs;
  const int64_t n = split.num_images();
  graphs.reserve(n);
  if (source == RelationSource::Boxes) {
    if (!split.boxes || !split.sizes) fail(split.file("ims_bbx.npy"), ": boxes not loaded; cannot derive relations");
    const torch::Tensor boxes = split.boxes->rows(0, n), sizes = split.sizes->wh.slice(0, 0, n);
    auto size = sizes.accessor<float, 2>();
    for (int64_t i = 0; i < n; ++i) graphs.push_back(derive_from_boxes(boxes[i], size[i][0], size[i][1], options));
    return graphs;
  }
  if (source != RelationSource::Features)
    fail("derive_scene_graphs: relations can be derived from boxes or features, not '", relation_source_name(source),
         "'");
  // A streaming pass over the features, a block of images at a time (COCO's train file is 33 GB).
  constexpr int64_t kBlock = 512;
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    const int64_t end = std::min(n, begin + kBlock);
    const torch::Tensor rows = split.images.rows(begin, end);
    if (!torch::isfinite(rows).all().item<bool>())
      fail(split.images.path(), ": NaN or Inf features among images ", begin, " to ", end - 1);
    const torch::Tensor unit =
        torch::nn::functional::normalize(rows, torch::nn::functional::NormalizeFuncOptions().dim(2));
    const torch::Tensor similarity = torch::bmm(unit, unit.transpose(1, 2)).contiguous();
    for (int64_t k = 0; k < end - begin; ++k) graphs.push_back(derive_from_similarity(similarity[k], options));
    split.images.release(begin, end);
  }
  return graphs;
}

}  // namespace sm
