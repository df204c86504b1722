// scenematch synth: writes the built-in synthetic world as a dataset folder.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "command.h"
#include "scenematch/core/error.h"
#include "scenematch/synth/generator.h"

namespace sm::cli {
namespace {

struct SynthFlags {
  std::string out, preset = "small";
  uint64_t seed = 1;
  int feat_dim = 0;
  std::vector<int64_t> images;  // train, dev, test; empty: the preset's
  // Negative: the preset's value.
  double noise = -1, role_weight = -1, trace_dropout = -1, feature_noise = -1, paraphrase = -1, distractors = -1,
         two_sentences = -1, count_phrases = -1;
  CommonOptions common;
};

std::string human_bytes(int64_t bytes) {
  char buf[32];
  if (bytes >= (1ll << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(1ll << 30));
  else if (bytes >= (1ll << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / double(1ll << 20));
  else
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  return buf;
}

void run(const SynthFlags& flags) {
  apply_common_options(flags.common);
  synth::SynthOptions options = synth::preset_options(flags.preset);
  options.seed = flags.seed;
  const std::initializer_list<std::pair<double, double*>> knobs = {{flags.noise, &options.noise},
                                                                   {flags.role_weight, &options.role_weight},
                                                                   {flags.trace_dropout, &options.trace_dropout},
                                                                   {flags.feature_noise, &options.feature_noise},
                                                                   {flags.paraphrase, &options.paraphrase},
                                                                   {flags.distractors, &options.distractors},
                                                                   {flags.two_sentences, &options.two_sentences},
                                                                   {flags.count_phrases, &options.count_phrases}};
  for (const auto& [flag, field] : knobs)
    if (flag >= 0) *field = flag;
  if (flags.feat_dim != 0) options.feat_dim = flags.feat_dim;
  if (!flags.images.empty()) {
    options.train = flags.images[0];
    options.dev = flags.images[1];
    options.test = flags.images[2];
  }
  synth::SynthSummary summary = synth::generate_dataset(flags.out, options);

  if (flags.common.json) {
    nlohmann::json j{{"out", flags.out},
                     {"preset", options.preset},
                     {"seed", options.seed},
                     {"feat_dim", options.feat_dim},
                     {"noise", options.noise},
                     {"role_weight", options.role_weight},
                     {"trace_dropout", options.trace_dropout},
                     {"feature_noise", options.feature_noise},
                     {"paraphrase", options.paraphrase},
                     {"distractors", options.distractors},
                     {"two_sentences", options.two_sentences},
                     {"count_phrases", options.count_phrases},
                     {"bytes", summary.bytes},
                     {"seconds", summary.seconds},
                     {"splits", nlohmann::json::object()}};
    for (const auto& s : summary.splits)
      j["splits"][s.name] = {{"images", s.images},
                             {"captions", s.captions},
                             {"relations", s.relations},
                             {"probes", s.probes},
                             {"plausible_relation_swaps", s.plausible_swaps},
                             {"bytes", s.bytes}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("wrote %s (preset %s, seed %llu, F=%d, scene-graph noise %.2f) in %.1fs, %s\n", flags.out.c_str(),
              options.preset.c_str(), static_cast<unsigned long long>(options.seed), options.feat_dim, options.noise,
              summary.seconds, human_bytes(summary.bytes).c_str());
  for (const auto& s : summary.splits) {
    std::printf("  %-5s %6lld images %7lld captions %6lld relations  %s", s.name.c_str(),
                static_cast<long long>(s.images), static_cast<long long>(s.captions),
                static_cast<long long>(s.relations), human_bytes(s.bytes).c_str());
    if (!s.probes.empty()) {
      std::printf("  probes:");
      for (const auto& [kind, n] : s.probes) std::printf(" %s %lld", kind.c_str(), static_cast<long long>(n));
      std::printf(" (plausible relation swaps %lld)", static_cast<long long>(s.plausible_swaps));
    }
    std::printf("\n");
  }
}

CommandRegistrar registrar("synth", [](CLI::App& app) {
  auto flags = std::make_shared<SynthFlags>();
  CLI::App* cmd = app.add_subcommand(
      "synth", "write the built-in synthetic world (train, dev, test) in the layout of docs/DATA_FORMAT.md");
  cmd->add_option("--out", flags->out, "output folder")->required();
  cmd->add_option("--preset", flags->preset,
                  "tiny (160/50/50 images, F=64), small (3000/500/500, F=512), hard (small's sizes, noisier "
                  "graphs and features, weak role traces, passive/converse captions, same-category distractors) or "
                  "full (29000/1000/1000, F=2048)")
      ->check(CLI::IsMember({"tiny", "small", "hard", "full"}))
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed, "random seed; the output is identical for a seed and preset")
      ->capture_default_str();
  cmd->add_option("--feat-dim", flags->feat_dim, "region feature dimension F (default: the preset's)")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--images", flags->images,
                  "images in train, dev and test, e.g. --images 100,100,5000 for a COCO-5K-sized test split "
                  "(default: the preset's)")
      ->expected(3)
      ->delimiter(',')
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  cmd->add_option("--noise", flags->noise,
                  "scene-graph detector noise: probability of each dropped and each wrong label or predicate "
                  "(default: the preset's, 0.05; hard 0.2)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--role-weight", flags->role_weight,
                  "how strongly a region's features show the role it plays (default 1; hard 0.5)")
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--trace-dropout", flags->trace_dropout,
                  "chance a relation leaves no role trace in the region features (default 0; hard 0.3)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--feature-noise", flags->feature_noise, "region feature noise (default 0.6; hard 0.9)")
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--paraphrase", flags->paraphrase,
                  "chance a one-relation caption says it the other way round: passive or converse "
                  "(default 0; hard 0.4)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--distractors", flags->distractors,
                  "chance a scene also holds an unrelated twin of a related object: same category, contrasting "
                  "attributes (default 0; hard 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--two-sentences", flags->two_sentences,
                  "chance a two-relation caption is written as two sentences, \"a man is holding a dog . the dog is "
                  "chasing a cat\" (default 0)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--count-phrases", flags->count_phrases,
                  "chance a group is first named by a count phrase, \"a pair of dogs\", \"a group of three dogs\" "
                  "(default 0)")
      ->check(CLI::Range(0.0, 1.0));
  add_common_options(cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
});

}  // namespace
}  // namespace sm::cli
