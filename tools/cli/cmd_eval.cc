// scenematch eval: the field's retrieval protocol (R@1/5/10 both ways, rSum,
// ranks) for one checkpoint or an ensemble of several (scores averaged).
#include <chrono>
#include <cstdio>

#include "command.h"
#include "scenematch/core/runtime.h"
#include "scenematch/eval/ensemble.h"
#include "scenematch/eval/metrics.h"

namespace sm::cli {
namespace {

CommandRegistrar reg("eval", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "image-text retrieval recall of a checkpoint (or an ensemble) on a split");
  static CommonOptions common;
  static std::vector<std::string> checkpoints;
  static std::string data, split = "test", protocol = "1k";
  cmd->add_option("--checkpoint", checkpoints, "checkpoint file; repeat for an ensemble (similarities averaged)")
      ->required();
  cmd->add_option("--data", data, "dataset folder (docs/DATA_FORMAT.md)")->required();
  cmd->add_option("--split", split, "split to evaluate")
      ->check(CLI::IsMember({"test", "dev", "testall"}))
      ->capture_default_str();
  cmd->add_option("--protocol", protocol,
                  "1k: the whole split (Flickr30K); 5fold: mean of five 1,000-image folds (COCO 1K); 5k: the whole "
                  "split (COCO 5K)")
      ->check(CLI::IsMember({"1k", "5fold", "5k"}))
      ->capture_default_str();
  add_common_options(cmd, common);
  cmd->callback([] {
    apply_common_options(common);
    const auto start = std::chrono::steady_clock::now();
    EvalDataOptions options;
    options.threads = common.threads;
    const std::vector<ModelData> members =
        load_ensemble(checkpoints, data, split, parse_device(common.device), options);
    const Split& s = members.front().split();
    const RecallMetrics m = evaluate_protocol(ensemble_similarity(members), s.captions_per_image, protocol);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const std::string models = ensemble_name(members);
    if (common.json) {
      Json j = m.to_json();
      j["protocol"] = protocol;
      j["split"] = split;
      j["data"] = data;
      j["checkpoints"] = checkpoints;
      j["models"] = models;
      j["images"] = s.num_images();
      j["captions"] = s.num_captions();
      j["seconds"] = seconds;
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("%s", format_recall_table(m, cat(models, " on ", data, " ", split, " (", s.num_images(), " images, ",
                                                   s.num_captions(), " captions), protocol ", protocol))
                            .c_str());
    }
  });
});

}  // namespace
}  // namespace sm::cli
