// scenematch eval: the field's retrieval protocol (R@1/5/10 both ways, rSum,
// ranks) for one checkpoint or an ensemble of several (scores averaged), or
// for similarity matrices saved by any codebase (.npy, images x captions).
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "command.h"
#include "scenematch/core/process_group.h"
#include "scenematch/core/runtime.h"
#include "scenematch/data/dataset.h"
#include "scenematch/eval/ensemble.h"
#include "scenematch/eval/metrics.h"

namespace sm::cli {
namespace {

// The mean of saved (images, captions) matrices, each checked against the split.
torch::Tensor average_saved_similarities(const std::vector<std::string>& paths, const Split& s) {
  torch::Tensor sum;
  for (const auto& path : paths) {
    NpyArray a = NpyArray::open(path);
    const std::vector<int64_t> expected = {s.num_images(), s.num_captions()};
    if (a.shape() != expected)
      fail(path, ": shape ", torch::IntArrayRef(a.shape()), ", but ", s.file("ims.npy"), " and ", s.file("caps.txt"),
           " need ", torch::IntArrayRef(expected), " (images x captions)");
    torch::Tensor m = a.rows(0, a.rows()).to(torch::kDouble);
    if (!torch::isfinite(m).all().item<bool>()) fail(path, ": holds NaN or Inf");
    sum = sum.defined() ? sum + m : m;
  }
  return sum / static_cast<double>(paths.size());
}

CommandRegistrar reg("eval", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "image-text retrieval recall of a checkpoint (or an ensemble) on a split");
  static CommonOptions common;
  static DistributedOptions distributed;
  static std::vector<std::string> checkpoints, saved;
  static std::string data, split = "test", protocol = "1k", save_sims;
  static bool release_boxes = false;
  auto* ckpt =
      cmd->add_option("--checkpoint", checkpoints, "checkpoint file; repeat for an ensemble (similarities averaged)");
  auto* sims = cmd->add_option("--sims", saved,
                               "a saved similarity matrix (.npy, float32/float64, images x captions) instead of a "
                               "checkpoint; repeat to average several, e.g. runs of other codebases");
  ckpt->excludes(sims);
  cmd->add_option("--save-sims", save_sims, "write the similarity matrix (float32 .npy, images x captions)")
      ->excludes(sims);
  cmd->add_flag("--release-eval-boxes", release_boxes,
                "GSMN: feed boxes as the authors' evaluation script does (divided by the image size on every access, "
                "image i with the boxes of image i/5), to reproduce its published numbers; docs/models/gsmn.md")
      ->excludes(sims);
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
  add_distributed_options(cmd, distributed);
  cmd->callback([] {
    apply_common_options(common);
    // Ranks split the images of each member's matrix; rank 0 reports.
    const auto group = join_process_group(distributed);
    const auto start = std::chrono::steady_clock::now();
    EvalDataOptions options;
    options.threads = common.threads;
    if (checkpoints.empty() && saved.empty()) fail("eval: give --checkpoint (one or more) or --sims (one or more)");
    std::vector<ModelData> members;
    Split s;
    torch::Tensor matrix;
    std::string models;
    if (saved.empty()) {
      members = load_ensemble(checkpoints, data, split, parse_device(common.device), options);
      if (release_boxes)
        for (auto& m : members)
          m.data->batcher->set_release_eval_boxes(cfg_get<int64_t>(m.bundle.config, "batch_size"));
      s = members.front().split();
      SimilarityOptions sim_options;
      sim_options.group = group.get();
      matrix = ensemble_similarity(members, sim_options);
      models = ensemble_name(members);
    } else {
      s = load_split(data, split);
      matrix = average_saved_similarities(saved, s);
      models = cat(saved.size(), " saved matri", saved.size() > 1 ? "ces (averaged)" : "x");
    }
    if (group && !group->is_main()) return;
    if (!save_sims.empty()) write_npy(save_sims, matrix.to(torch::kFloat).contiguous());
    const RecallMetrics m = evaluate_protocol(matrix, s.captions_per_image, protocol);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    if (common.json) {
      Json j = m.to_json();
      j["protocol"] = protocol;
      j["split"] = split;
      j["data"] = data;
      j["checkpoints"] = checkpoints;
      if (!saved.empty()) j["sims"] = saved;
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
