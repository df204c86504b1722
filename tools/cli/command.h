// Each subcommand lives in its own cmd_*.cc and registers itself here; the CLI
// only parses flags and calls into libscenematch.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace sm::cli {

using CommandSetup = std::function<void(CLI::App& app)>;

struct CommandRegistrar {
  CommandRegistrar(const std::string& name, CommandSetup setup);
};

// Flags most commands share.
struct CommonOptions {
  int threads = 0;  // 0 = all cores
  std::string device = "cpu";
  bool json = false;
  bool quiet = false;
};
void add_common_options(CLI::App* cmd, CommonOptions& opts, bool with_json = true);
// Applies threads and quiet/json (json silences progress bars); commands read
// the device from opts.device themselves.
void apply_common_options(const CommonOptions& opts);

}  // namespace sm::cli
