#include "scenematch/synth/generator.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/error.h"
#include "scenematch/core/progress.h"
#include "scenematch/data/npy.h"
#include "scenematch/synth/captions.h"
#include "scenematch/synth/features.h"

namespace sm::synth {
namespace {

// Independent streams of one image.
enum Stream : uint64_t { kScene = 1, kCaptions, kProbes, kFeatures, kGraph };

uint64_t image_seed(const SynthOptions& o, const std::string& split, int64_t index) {
  const auto& names = split_names();
  uint64_t split_id = std::find(names.begin(), names.end(), split) - names.begin() + 1;
  return mix_seed(o.seed, split_id, static_cast<uint64_t>(index));
}

// The detector's view of the scene: every instance, some duplicate
// detections, and with probability `noise` each a dropped or wrong label or
// predicate. Returns the relations kept (for their union features).
nlohmann::json scene_graph(const Scene& scene, double noise, Rng& rng, std::vector<Relation>& kept) {
  const World& w = world();
  const int num_categories = static_cast<int>(w.categories.size());
  std::vector<std::pair<int, std::string>> objects;  // region, label
  std::vector<bool> listed(scene.regions.size(), false);
  for (int r = 0; r < static_cast<int>(scene.regions.size()); ++r) {
    const Region& region = scene.regions[r];
    bool detected = region.kind == RegionKind::Object || (region.kind == RegionKind::Duplicate && rng.chance(0.3));
    if (!detected || rng.chance(noise)) continue;
    int label = scene.entities[region.entity].category;
    if (rng.chance(noise)) label = (label + 1 + rng.below(num_categories - 1)) % num_categories;
    objects.push_back({r, w.categories[label].noun.singular});
    listed[r] = true;
  }
  nlohmann::json j;
  j["objects"] = nlohmann::json::array();
  for (const auto& [region, label] : objects) j["objects"].push_back({{"region", region}, {"label", label}});
  j["relations"] = nlohmann::json::array();
  const int num_predicates = static_cast<int>(w.predicates.size());
  for (const Relation& rel : scene.relations) {
    int s = scene.entities[rel.subject].regions[0], o = scene.entities[rel.object].regions[0];
    if (!listed[s] || !listed[o] || rng.chance(noise)) continue;
    int predicate = rel.predicate;
    if (rng.chance(noise)) predicate = (predicate + 1 + rng.below(num_predicates - 1)) % num_predicates;
    j["relations"].push_back({{"subject", s}, {"predicate", w.predicates[predicate].name}, {"object", o}});
    kept.push_back(rel);
  }
  return j;
}

SceneOptions scene_options(const SynthOptions& o) {
  SceneOptions options;
  options.num_regions = o.regions;
  options.distractors = o.distractors;
  return options;
}

SplitSummary write_split(const std::string& dir, const std::string& split, int64_t n, const SynthOptions& o,
                         const FeatureModel& features) {
  SplitSummary summary;
  summary.name = split;
  summary.images = n;
  const int64_t R = o.regions, F = o.feat_dim;
  auto path = [&](const std::string& suffix) { return dir + "/" + split + "_" + suffix; };
  NpyWriter ims(path("ims.npy"), {n, R, F});
  NpyWriter bbx(path("ims_bbx.npy"), {n, R, 4});
  NpyWriter sizes(path("ims_size.npy"), {n, 2});
  NpyWriter rel(path("vsg_rel.npy"), {n, kMaxRelations, F});
  std::ostringstream caps, caps_gt, vsg, probes;
  const bool with_probes = split != "train";
  std::vector<float> region_buf(R * F), rel_buf(kMaxRelations * F), box_buf(R * 4);

  const World& w = world();
  Progress progress("synth " + split, n, "img");
  for (int64_t i = 0; i < n; ++i) {
    uint64_t seed = image_seed(o, split, i);
    Rng scene_rng(mix_seed(seed, kScene));
    Scene scene = sample_scene(scene_rng, scene_options(o));
    summary.relations += static_cast<int64_t>(scene.relations.size());

    Rng feature_rng(mix_seed(seed, kFeatures));
    const std::vector<char> untraced = features.regions(scene, feature_rng, region_buf.data());
    ims.append(region_buf.data(), region_buf.size());
    for (int64_t r = 0; r < R; ++r) {
      const Box& b = scene.regions[r].box;
      float* out = box_buf.data() + 4 * r;
      out[0] = b.x1, out[1] = b.y1, out[2] = b.x2, out[3] = b.y2;
    }
    bbx.append(box_buf.data(), box_buf.size());
    float size[2] = {scene.width, scene.height};
    sizes.append(size, 2);

    Rng graph_rng(mix_seed(seed, kGraph));
    std::vector<Relation> kept;
    vsg << scene_graph(scene, o.noise, graph_rng, kept).dump() << '\n';
    std::fill(rel_buf.begin(), rel_buf.end(), 0.f);
    for (size_t k = 0; k < kept.size(); ++k) features.relation(scene, kept[k], feature_rng, rel_buf.data() + k * F);
    rel.append(rel_buf.data(), rel_buf.size());

    Rng caption_rng(mix_seed(seed, kCaptions));
    std::vector<Caption> captions = make_captions(scene, caption_rng, o.captions_per_image,
                                                  CaptionStyle{o.paraphrase, o.two_sentences, o.count_phrases});
    if (static_cast<int>(captions.size()) != o.captions_per_image)
      fail("synth: ", split, " image ", i, " gave only ", captions.size(), " distinct captions");
    for (const Caption& c : captions) {
      caps << c.text << '\n';
      caps_gt << c.gt_json() << '\n';
    }
    summary.captions += static_cast<int64_t>(captions.size());

    if (with_probes) {
      Rng probe_rng(mix_seed(seed, kProbes));
      for (const ProbeText& p : make_probes(scene, probe_rng, o.paraphrase > 0)) {
        nlohmann::json j{{"image", i}, {"positive", p.positive}, {"negatives", {p.negative}}, {"kind", p.kind}};
        // A swap that breaks the type constraint ("a horse riding a man") can be
        // rejected from the text alone; only type-valid swaps need the image.
        if (p.kind.rfind("relation-swap", 0) == 0) j["subset"] = p.plausible_swap ? "type-valid" : "text-implausible";
        probes << j.dump() << '\n';
        ++summary.probes[p.kind];
        // With trace dropout, each relation swap again under the kinds that say
        // what shows its direction: a role trace in the regions (traced), only
        // the layout and the scene graph (untraced), or, where the boxes stand
        // side by side and so read the same both ways, the scene graph alone
        // (its directed triple and union-box feature).
        if (p.kind == "relation-swap" && o.trace_dropout > 0) {
          const bool traced = !untraced[p.relation];
          std::vector<std::string> copies{traced ? "relation-swap-traced" : "relation-swap-untraced"};
          if (!traced && symmetric_layout(w.predicates[scene.relations[p.relation].predicate].geometry))
            copies.push_back("relation-swap-scene-graph-only");
          for (const std::string& kind : copies) {
            j["kind"] = kind;
            probes << j.dump() << '\n';
            ++summary.probes[kind];
          }
        }
        summary.plausible_swaps += p.kind == "relation-swap" && p.plausible_swap ? 1 : 0;
      }
    }
    progress.step();
  }
  progress.finish();
  ims.close();
  bbx.close();
  sizes.close();
  rel.close();
  write_file_atomic(path("caps.txt"), caps.str());
  write_file_atomic(path("caps_gt.jsonl"), caps_gt.str());
  write_file_atomic(path("vsg.jsonl"), vsg.str());
  std::vector<std::string> files = {"ims.npy",  "ims_bbx.npy",   "ims_size.npy", "vsg_rel.npy",
                                    "caps.txt", "caps_gt.jsonl", "vsg.jsonl"};
  if (with_probes) {
    write_file_atomic(path("probes.jsonl"), probes.str());
    files.push_back("probes.jsonl");
  }
  for (const std::string& f : files) summary.bytes += static_cast<int64_t>(std::filesystem::file_size(path(f)));
  return summary;
}

}  // namespace

const std::vector<std::string>& split_names() {
  static const std::vector<std::string> names = {"train", "dev", "test"};
  return names;
}

SynthOptions preset_options(const std::string& preset) {
  SynthOptions o;
  o.preset = preset;
  if (preset == "tiny") {
    o.train = 160, o.dev = 50, o.test = 50, o.feat_dim = 64;
  } else if (preset == "small") {
    o.train = 3000, o.dev = 500, o.test = 500, o.feat_dim = 512;
  } else if (preset == "full") {
    o.train = 29000, o.dev = 1000, o.test = 1000, o.feat_dim = 2048;
  } else if (preset == "hard") {
    o.train = 3000, o.dev = 500, o.test = 500, o.feat_dim = 512;
    o.noise = 0.2;
    o.role_weight = 0.5;
    o.trace_dropout = 0.3;
    o.feature_noise = 0.9;
    o.paraphrase = 0.4;
    o.distractors = 0.5;
  } else {
    fail("synth: unknown preset '", preset, "' (use tiny, small, hard or full)");
  }
  return o;
}

Scene generated_scene(const SynthOptions& options, const std::string& split, int64_t index) {
  Rng rng(mix_seed(image_seed(options, split, index), kScene));
  return sample_scene(rng, scene_options(options));
}

SynthSummary generate_dataset(const std::string& out_dir, const SynthOptions& options) {
  if (options.feat_dim < 1) fail("synth: --feat-dim must be positive (got ", options.feat_dim, ")");
  if (options.noise < 0 || options.noise > 1) fail("synth: --noise must be in [0, 1] (got ", options.noise, ")");
  if (options.regions < 12) fail("synth: need at least 12 regions per image (got ", options.regions, ")");
  auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) fail("synth: cannot create ", out_dir, ": ", ec.message());
  for (double p :
       {options.trace_dropout, options.paraphrase, options.distractors, options.two_sentences, options.count_phrases})
    if (p < 0 || p > 1)
      fail(
          "synth: --trace-dropout, --paraphrase, --distractors, --two-sentences and --count-phrases must be in [0, 1] "
          "(got ",
          p, ")");
  if (options.role_weight < 0 || options.feature_noise < 0)
    fail("synth: --role-weight and --feature-noise must be >= 0");
  FeatureWeights weights;
  weights.role = static_cast<float>(options.role_weight);
  weights.noise = static_cast<float>(options.feature_noise);
  weights.trace_dropout = static_cast<float>(options.trace_dropout);
  FeatureModel features(options.seed, options.feat_dim, weights);
  SynthSummary summary;
  const int64_t counts[] = {options.train, options.dev, options.test};
  for (size_t s = 0; s < split_names().size(); ++s) {
    summary.splits.push_back(write_split(out_dir, split_names()[s], counts[s], options, features));
    summary.bytes += summary.splits.back().bytes;
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace sm::synth
