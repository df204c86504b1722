// Probes: a positive caption and hard negatives (swapped relations,
// attributes, objects, counts) for one image; a model passes a probe when the
// positive scores strictly above every negative. Accuracy is reported per kind.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"

namespace sm {

struct ProbeAccuracy {
  double accuracy = 0;  // 0..1
  int64_t count = 0;
  std::optional<double> blind;  // accuracy with every image replaced by one (add_blind)
};

struct ProbeReport {
  std::map<std::string, ProbeAccuracy> kinds;
  ProbeAccuracy all;
  Json to_json() const;  // {"<kind>": {"accuracy", "count"[, "blind_accuracy"]}, ..., "all": {...}}
};

// The text-only prior of a probe set: one image standing for every image of
// the split, its features (and boxes, relation features) the split's mean
// slot by slot, its scene graph image 0's with every label and predicate
// word read as <unk>. A probe passed with it is passed on text alone.
ImageBatch mean_image(const Batcher& b);
// Copies each kind's accuracy in `blind` into report's `blind` fields.
void add_blind(ProbeReport& report, const ProbeReport& blind);

// scores[p][0] is probe p's positive against its image, scores[p][1 + k] its
// negative k. Each image is encoded once, the probe captions in batches, and
// each image is scored only against its own probes' captions. Captions are
// parsed when the model needs parses (cached next to SPLIT_probes.jsonl).
// blind: every image is mean_image(b) instead. With o.group, each rank scores
// its share of the probes and every rank gets every probe's scores.
std::vector<std::vector<float>> probe_scores(Matcher& m, const Batcher& b, const std::vector<Probe>& probes,
                                             const SimilarityOptions& o = {}, int threads = 0, bool blind = false);
// The members' scores on their split's probes, averaged.
std::vector<std::vector<float>> ensemble_probe_scores(const std::vector<ModelData>& members,
                                                      const SimilarityOptions& o = {}, int threads = 0,
                                                      bool blind = false);

ProbeReport probe_accuracy(const std::vector<Probe>& probes, const std::vector<std::vector<float>>& scores);
std::string format_probe_table(const ProbeReport& report, const std::string& title);

}  // namespace sm
