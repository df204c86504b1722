// scenematch train: trains a registered model on a dataset folder and writes
// RUN_DIR/best.ckpt, last.ckpt, log.jsonl, curves.png and vocab.json.
#include <cstdio>

#include "command.h"
#include "scenematch/core/process_group.h"
#include "scenematch/core/runtime.h"
#include "scenematch/train/run.h"

namespace sm::cli {
namespace {

CommandRegistrar reg("train", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "train a model; writes best.ckpt, last.ckpt, log.jsonl, curves.png");
  static CommonOptions common;
  static DistributedOptions distributed;
  static TrainRequest request;
  static int epochs = 0, batch_size = 0;
  static int64_t seed = -1;
  static std::string graph;
  static std::vector<std::string> sets;
  cmd->add_option("--model", request.model, "model name (scenematch models lists them)");
  cmd->add_option("--data", request.data_dir, "dataset folder (docs/DATA_FORMAT.md)")->required();
  cmd->add_option("--out", request.out_dir, "run folder for checkpoints, log and plot")->required();
  cmd->add_option("--preset", request.preset,
                  "paper: the paper's printed values (the release where silent); release: the authors' code's "
                  "departures; paper-coco, release-coco: MS-COCO; cpu: small, minutes on 2 cores (docs/models.md)")
      ->capture_default_str();
  cmd->add_option("--epochs", epochs, "number of epochs (default: the preset's)");
  cmd->add_option("--batch-size", batch_size, "training batch size per rank (default: the preset's)");
  cmd->add_option("--seed", seed, "seed of initialisation and shuffling (default 0)");
  cmd->add_flag("--resume", request.resume, "continue RUN_DIR/last.ckpt exactly where it stopped");
  cmd->add_option("--set", sets, "override a config key: KEY=VALUE (repeatable; scenematch models NAME lists keys)");
  cmd->add_option("--graph", graph, "graph variant for models that have one: sparse or dense")
      ->check(CLI::IsMember({"sparse", "dense"}));
  cmd->add_option("--val-split", request.val_split, "split validated after each epoch")->capture_default_str();
  add_common_options(cmd, common);
  add_distributed_options(cmd, distributed);
  cmd->callback([] {
    apply_common_options(common);
    request.group = join_process_group(distributed);
    const bool main_rank = !request.group || request.group->is_main();
    if (request.model.empty() && !request.resume) fail("--model is required (scenematch models lists them)");
    request.overrides = sets;
    if (epochs > 0) request.overrides.push_back(cat("epochs=", epochs));
    if (batch_size > 0) request.overrides.push_back(cat("batch_size=", batch_size));
    if (seed >= 0) request.overrides.push_back(cat("seed=", seed));
    if (!graph.empty()) request.overrides.push_back("graph=" + graph);
    request.device = parse_device(common.device);
    request.threads = common.threads;
    request.verbose = !common.quiet && main_rank;
    const TrainSummary s = run_training(request);
    if (!main_rank) return;
    Json result = {
        {"epochs", s.epochs},   {"best_epoch", s.best_epoch}, {"best_rsum", s.best_rsum},       {"last", s.last_record},
        {"seconds", s.seconds}, {"best", s.best_path},        {"last_checkpoint", s.last_path}, {"log", s.log_path},
        {"plot", s.plot_path}};
    if (common.json) {
      std::printf("%s\n", result.dump(2).c_str());
    } else {
      std::printf("best rSum %.2f at epoch %d of %d; %s, %s, %s, %s\n", s.best_rsum, s.best_epoch, s.epochs,
                  s.best_path.c_str(), s.last_path.c_str(), s.log_path.c_str(), s.plot_path.c_str());
    }
  });
});

}  // namespace
}  // namespace sm::cli
