// scenematch probe: accuracy on a split's hard-negative probes (S_probes.jsonl)
// per kind, for one checkpoint or an ensemble of several (scores averaged);
// --blind adds the accuracy with one fixed image for all (a text-only prior).
#include <cstdio>

#include "command.h"
#include "scenematch/core/process_group.h"
#include "scenematch/core/runtime.h"
#include "scenematch/eval/ensemble.h"
#include "scenematch/eval/probe_eval.h"

namespace sm::cli {
namespace {

CommandRegistrar reg("probe", [](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "probe", "accuracy on hard-negative probes (positive caption above every negative), per probe kind");
  static CommonOptions common;
  static DistributedOptions distributed;
  static std::vector<std::string> checkpoints;
  static std::string data, split = "test";
  static bool blind = false;
  cmd->add_option("--checkpoint", checkpoints, "checkpoint file; repeat for an ensemble (scores averaged)")->required();
  cmd->add_option("--data", data, "dataset folder with SPLIT_probes.jsonl (docs/DATA_FORMAT.md)")->required();
  cmd->add_option("--split", split, "split whose probes are scored")
      ->check(CLI::IsMember({"test", "dev"}))
      ->capture_default_str();
  cmd->add_flag("--blind", blind,
                "also score every probe with one fixed image (the split's mean features) for every image: the "
                "text-only prior, shown beside each kind");
  add_common_options(cmd, common);
  add_distributed_options(cmd, distributed);
  cmd->callback([] {
    apply_common_options(common);
    // Ranks split the probes; rank 0 reports.
    const auto group = join_process_group(distributed);
    SimilarityOptions sim_options;
    sim_options.group = group.get();
    EvalDataOptions options;
    options.probes = true;
    options.threads = common.threads;
    const std::vector<ModelData> members =
        load_ensemble(checkpoints, data, split, parse_device(common.device), options);
    const Split& s = members.front().split();
    if (s.probes.empty()) fail(s.file("probes.jsonl"), ": holds no probes");
    ProbeReport report = probe_accuracy(s.probes, ensemble_probe_scores(members, sim_options, common.threads));
    if (blind)
      add_blind(report, probe_accuracy(s.probes, ensemble_probe_scores(members, sim_options, common.threads, true)));

    if (group && !group->is_main()) return;
    const std::string models = ensemble_name(members);
    if (common.json)
      std::printf("%s\n", report.to_json().dump(2).c_str());
    else
      std::printf("%s", format_probe_table(report, cat(models, " on ", s.file("probes.jsonl"))).c_str());
  });
});

}  // namespace
}  // namespace sm::cli
