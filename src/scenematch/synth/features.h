// Region and relation features of the synthetic world, shaped like CNN pool
// features (non-negative, sparse-ish): a ReLU over fixed sparse random
// prototypes of the category, the attributes and, for each relation a region
// takes part in, a (predicate, role) prototype, plus noise. Mean-pooling the regions keeps
// which categories, attributes and roles are present but not which object
// holds which role or attribute; region-level matching keeps both (unless a
// relation's trace is dropped: then only the image's layout shows it).
#pragma once
#include <cstdint>
#include <vector>

#include "scenematch/synth/random.h"
#include "scenematch/synth/scene.h"

namespace sm::synth {

struct FeatureWeights {
  float category = 1.0f, attribute = 0.8f, role = 1.0f, noise = 0.6f, threshold = 0.5f;
  float trace_dropout = 0.0f;  // chance a relation leaves no role trace in its regions
};

class FeatureModel {
 public:
  FeatureModel(uint64_t seed, int dim, FeatureWeights weights = {});
  int dim() const { return dim_; }
  // scene.regions.size() rows of dim() floats. Returns, per relation of the
  // scene, whether it left no role trace (trace_dropout).
  std::vector<char> regions(const Scene& scene, Rng& rng, float* out) const;
  // The union-box feature of one relation (dim() floats).
  void relation(const Scene& scene, const Relation& r, Rng& rng, float* out) const;

 private:
  struct Table {
    std::vector<float> values;
    const float* row(int i, int dim) const { return values.data() + static_cast<size_t>(i) * dim; }
  };
  Table make_table(Rng& rng, int rows) const;
  int dim_;
  FeatureWeights weights_;
  Table categories_, attributes_, roles_, predicates_, parts_, backgrounds_;
};

}  // namespace sm::synth
