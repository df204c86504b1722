// scenematch models: the registered models and the configs of their presets.
#include <cstdio>

#include "command.h"
#include "scenematch/models/matcher.h"
#include "scenematch/models/presets.h"

namespace sm::cli {
namespace {

CommandRegistrar reg("models", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "list the registered models and their presets");
  static std::string name, preset;
  static bool json = false;
  cmd->add_option("name", name, "show the full preset configs of this model");
  cmd->add_option("--preset", preset, "only this preset (paper, release, paper-coco, release-coco or cpu)");
  cmd->add_flag("--json", json, "print machine-readable JSON to stdout");
  cmd->callback([] {
    std::vector<std::string> names = name.empty() ? matcher_names() : std::vector<std::string>{name};
    std::vector<std::string> presets = preset_names();
    if (!preset.empty()) presets = {preset};
    Json all = Json::object();
    for (const auto& n : names) {
      Json entry = {{"description", matcher_info(n).description}, {"presets", Json::object()}};
      for (const auto& p : presets) {
        try {
          entry["presets"][p] = matcher_preset(n, p);
        } catch (const Error&) {
          if (!preset.empty()) throw;  // asked for by name; otherwise list only the model's own presets
        }
      }
      all[n] = entry;
    }
    if (json) {
      std::printf("%s\n", all.dump(2).c_str());
      return;
    }
    for (const auto& [n, entry] : all.items()) {
      std::printf("%s: %s\n", n.c_str(), entry["description"].get<std::string>().c_str());
      for (const auto& [p, cfg] : entry["presets"].items()) {
        if (name.empty()) {
          const std::string schedule =
              cfg.contains("lr_milestones")
                  ? cat("lr x", cfg["lr_decay"].dump(), " at epochs ", cfg["lr_milestones"].dump())
                  : cat("lr x", cfg["lr_decay"].dump(), " every ", cfg["lr_update"].dump());
          std::printf("  --preset %-12s embed %s, batch %s, lr %s, %s epochs (%s)\n", p.c_str(),
                      cfg.value("embed_size", Json()).dump().c_str(), cfg["batch_size"].dump().c_str(),
                      cfg["lr"].dump().c_str(), cfg["epochs"].dump().c_str(), schedule.c_str());
        } else {
          std::printf("  --preset %s\n", p.c_str());
          for (const auto& [k, v] : cfg.items()) std::printf("    %-20s %s\n", k.c_str(), v.dump().c_str());
        }
      }
    }
  });
});

}  // namespace
}  // namespace sm::cli
