// scenematch models: the registered models and the configs of their presets.
#include <cstdio>

#include "command.h"
#include "scenematch/models/matcher.h"

namespace sm::cli {
namespace {

const char* kPresets[] = {"paper", "cpu"};

CommandRegistrar reg("models", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "list the registered models and their presets");
  static std::string name, preset;
  static bool json = false;
  cmd->add_option("name", name, "show the full preset configs of this model");
  cmd->add_option("--preset", preset, "only this preset (paper or cpu)");
  cmd->add_flag("--json", json, "print machine-readable JSON to stdout");
  cmd->callback([] {
    std::vector<std::string> names = name.empty() ? matcher_names() : std::vector<std::string>{name};
    std::vector<std::string> presets(std::begin(kPresets), std::end(kPresets));
    if (!preset.empty()) presets = {preset};
    Json all = Json::object();
    for (const auto& n : names) {
      Json entry = {{"description", matcher_info(n).description}, {"presets", Json::object()}};
      for (const auto& p : presets) entry["presets"][p] = matcher_preset(n, p);
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
          std::printf("  --preset %-6s embed %s, batch %s, lr %s, %s epochs (lr x%s every %s)\n", p.c_str(),
                      cfg.value("embed_size", Json()).dump().c_str(), cfg["batch_size"].dump().c_str(),
                      cfg["lr"].dump().c_str(), cfg["epochs"].dump().c_str(), cfg["lr_decay"].dump().c_str(),
                      cfg["lr_update"].dump().c_str());
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
