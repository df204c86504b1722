#include "scenematch/synth/features.h"

#include <algorithm>
#include <cmath>

namespace sm::synth {
namespace {

void add(float* acc, const float* proto, float weight, int dim) {
  for (int d = 0; d < dim; ++d) acc[d] += weight * proto[d];
}

// Adds noise, then ReLU(x - threshold): non-negative, mostly zeros.
void finish(float* acc, Rng& rng, float noise, float threshold, int dim) {
  for (int d = 0; d < dim; ++d) acc[d] = std::max(0.f, acc[d] + noise * rng.normal() - threshold);
}

}  // namespace

// Prototypes are non-negative on a random ~10% of the dimensions, so two of
// them rarely share a dimension and the ReLU adds them almost linearly: the
// pool of "man as subject + horse as object" then equals the pool of the swap.
FeatureModel::Table FeatureModel::make_table(Rng& rng, int rows) const {
  const double density = std::max(0.1, 8.0 / dim_);
  Table t;
  t.values.resize(static_cast<size_t>(rows) * dim_);
  for (float& v : t.values) v = rng.chance(density) ? 0.5f + std::abs(rng.normal()) : 0.f;
  return t;
}

FeatureModel::FeatureModel(uint64_t seed, int dim, FeatureWeights weights) : dim_(dim), weights_(weights) {
  const World& w = world();
  Rng rng(mix_seed(seed, 0x70726f746fULL, static_cast<uint64_t>(dim)));
  categories_ = make_table(rng, static_cast<int>(w.categories.size()));
  attributes_ = make_table(rng, static_cast<int>(w.attributes.size()));
  roles_ = make_table(rng, 2 * static_cast<int>(w.predicates.size()));
  predicates_ = make_table(rng, static_cast<int>(w.predicates.size()));
  parts_ = make_table(rng, static_cast<int>(w.part_names.size()));
  backgrounds_ = make_table(rng, static_cast<int>(w.background_names.size()));
}

std::vector<char> FeatureModel::regions(const Scene& scene, Rng& rng, float* out) const {
  const int n = static_cast<int>(scene.regions.size());
  std::fill(out, out + static_cast<size_t>(n) * dim_, 0.f);
  // Drawn only when asked for, so the other presets' features stay as they were.
  std::vector<char> silent(scene.relations.size(), 0);
  if (weights_.trace_dropout > 0)
    for (char& s : silent) s = rng.chance(weights_.trace_dropout);
  for (int r = 0; r < n; ++r) {
    const Region& region = scene.regions[r];
    float* x = out + static_cast<size_t>(r) * dim_;
    float noise = weights_.noise;
    if (region.kind == RegionKind::Background) {
      add(x, backgrounds_.row(region.label, dim_), 1.f, dim_);
    } else if (region.kind == RegionKind::Part) {
      add(x, categories_.row(scene.entities[region.entity].category, dim_), 0.5f * weights_.category, dim_);
      add(x, parts_.row(region.label, dim_), 1.f, dim_);
    } else {
      // An object, or a detector's duplicate of it: weaker and noisier.
      const float gain = region.kind == RegionKind::Object ? 1.f : 0.8f;
      if (region.kind == RegionKind::Duplicate) noise *= 1.5f;
      const Entity& e = scene.entities[region.entity];
      add(x, categories_.row(e.category, dim_), gain * weights_.category, dim_);
      for (int a : e.attributes) add(x, attributes_.row(a, dim_), gain * weights_.attribute, dim_);
      for (size_t k = 0; k < scene.relations.size(); ++k) {
        const Relation& rel = scene.relations[k];
        if (silent[k]) continue;
        if (rel.subject == region.entity) add(x, roles_.row(2 * rel.predicate, dim_), gain * weights_.role, dim_);
        if (rel.object == region.entity) add(x, roles_.row(2 * rel.predicate + 1, dim_), gain * weights_.role, dim_);
      }
    }
    finish(x, rng, noise, weights_.threshold, dim_);
  }
  return silent;
}

void FeatureModel::relation(const Scene& scene, const Relation& r, Rng& rng, float* out) const {
  // Subject and object weigh differently, so the union feature has a direction.
  std::fill(out, out + dim_, 0.f);
  add(out, predicates_.row(r.predicate, dim_), 1.f, dim_);
  add(out, categories_.row(scene.entities[r.subject].category, dim_), 0.6f * weights_.category, dim_);
  add(out, categories_.row(scene.entities[r.object].category, dim_), 0.3f * weights_.category, dim_);
  finish(out, rng, weights_.noise, weights_.threshold, dim_);
}

}  // namespace sm::synth
