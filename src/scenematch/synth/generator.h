// Writes the synthetic world as a dataset folder in the layout of
// docs/DATA_FORMAT.md (train, dev, test), streaming image by image so the
// full preset never holds its feature arrays in memory. Every image draws from
// its own random streams (seed, split, index), so output is identical for a
// given seed and preset on any machine.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "scenematch/synth/scene.h"

namespace sm::synth {

struct SynthOptions {
  std::string preset = "small";
  uint64_t seed = 1;
  int feat_dim = 512;   // F
  double noise = 0.05;  // scene-graph "detector" noise: drop / mislabel probability
  // Region features (docs/synthetic_world.md): how strongly a region shows
  // the role it plays, the chance a relation leaves no role trace at all, and
  // the feature noise.
  double role_weight = 1.0, trace_dropout = 0.0, feature_noise = 0.6;
  double paraphrase = 0.0;     // chance a one-relation caption says it the other way round (passive, converse)
  double two_sentences = 0.0;  // chance a two-relation caption is two sentences (CaptionStyle)
  double count_phrases = 0.0;  // chance a group's first mention is "a pair of" / "a group of N" (CaptionStyle)
  double distractors = 0.0;    // chance a scene holds an unrelated twin of a related object (SceneOptions)
  int64_t train = 3000, dev = 500, test = 500;
  int regions = 36;  // R
  int captions_per_image = 5;
};

// tiny: 160/50/50 images, F=64 (tests); small: 3000/500/500, F=512 (the
// README's job); full: 29,000/1,000/1,000, F=2048 (Flickr30K-sized); hard:
// small's sizes with noisier graphs and features, weak or missing role
// traces, passive/converse captions and same-category distractors.
SynthOptions preset_options(const std::string& preset);

// The relation rows in S_vsg_rel.npy: the most relations a scene has.
constexpr int kMaxRelations = 4;

struct SplitSummary {
  std::string name;
  int64_t images = 0, captions = 0, bytes = 0;
  std::map<std::string, int64_t> probes;  // per kind
  int64_t plausible_swaps = 0;            // relation-swap probes whose swap is type-valid
  int64_t relations = 0;                  // in the scenes (not the noisy scene graphs)
};
struct SynthSummary {
  std::vector<SplitSummary> splits;
  int64_t bytes = 0;
  double seconds = 0;
};

SynthSummary generate_dataset(const std::string& out_dir, const SynthOptions& options);

const std::vector<std::string>& split_names();  // train, dev, test
// The scene of image `index` of a split exactly as generate_dataset makes it.
Scene generated_scene(const SynthOptions& options, const std::string& split, int64_t index);

}  // namespace sm::synth
