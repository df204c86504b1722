// Each subcommand lives in its own cmd_*.cc and registers itself here; the CLI
// only parses flags and calls into libscenematch.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

namespace sm {
class ProcessGroupContext;
}

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

// Joining a process group (docs/training.md): flags, else torchrun's
// variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).
struct DistributedOptions {
  int rank = -1, world_size = -1, local_rank = -1, master_port = -1;  // -1: from the environment
  std::string master_addr;                                            // empty: from the environment
  double timeout_seconds = 300;
};
void add_distributed_options(CLI::App* cmd, DistributedOptions& opts);
// Null when the job is this one process. Ranks other than 0 stay quiet
// (no progress bars).
std::shared_ptr<const ProcessGroupContext> join_process_group(const DistributedOptions& opts);

}  // namespace sm::cli
