// Probes: a positive caption and hard negatives (swapped relations,
// attributes, objects, counts) for one image; a model passes a probe when the
// positive scores strictly above every negative. Accuracy is reported per kind.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"

namespace sm {

struct ProbeAccuracy {
  double accuracy = 0;  // 0..1
  int64_t count = 0;
};

struct ProbeReport {
  std::map<std::string, ProbeAccuracy> kinds;
  ProbeAccuracy all;
  Json to_json() const;  // {"<kind>": {"accuracy", "count"}, ..., "all": {...}}
};

// scores[p][0] is probe p's positive against its image, scores[p][1 + k] its
// negative k. Each image is encoded once, the probe captions in batches, and
// each image is scored only against its own probes' captions. Captions are
// parsed when the model needs parses (cached next to SPLIT_probes.jsonl).
std::vector<std::vector<float>> probe_scores(Matcher& m, const Batcher& b, const std::vector<Probe>& probes,
                                             const SimilarityOptions& o = {}, int threads = 0);
// The members' scores on their split's probes, averaged.
std::vector<std::vector<float>> ensemble_probe_scores(const std::vector<ModelData>& members,
                                                      const SimilarityOptions& o = {}, int threads = 0);

ProbeReport probe_accuracy(const std::vector<Probe>& probes, const std::vector<std::vector<float>>& scores);
std::string format_probe_table(const ProbeReport& report, const std::string& title);

}  // namespace sm
