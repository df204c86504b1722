// The flags of commands that can run as one rank of several processes.
#include "command.h"
#include "scenematch/core/process_group.h"
#include "scenematch/core/progress.h"

namespace sm::cli {

void add_distributed_options(CLI::App* cmd, DistributedOptions& opts) {
  const std::string group = "Distributed (docs/training.md)";
  cmd->add_option("--rank", opts.rank, "this process's rank (default: $RANK, else 0)")->group(group);
  cmd->add_option("--world-size", opts.world_size, "processes in the job (default: $WORLD_SIZE, else 1)")->group(group);
  cmd->add_option("--local-rank", opts.local_rank, "rank on this machine (default: $LOCAL_RANK, else the rank)")
      ->group(group);
  cmd->add_option("--master-addr", opts.master_addr, "rank 0's host (default: $MASTER_ADDR, else 127.0.0.1)")
      ->group(group);
  cmd->add_option("--master-port", opts.master_port, "rank 0's TCP port (default: $MASTER_PORT, else 29500)")
      ->group(group);
  cmd->add_option("--dist-timeout", opts.timeout_seconds,
                  "seconds a rendezvous or collective may wait for the other ranks before the job fails")
      ->capture_default_str()
      ->group(group);
}

std::shared_ptr<const ProcessGroupContext> join_process_group(const DistributedOptions& opts) {
  ProcessGroupSpec spec = process_group_spec_from_env();
  if (opts.world_size >= 0) spec.world_size = opts.world_size;
  if (opts.rank >= 0) spec.rank = opts.rank;
  spec.local_rank = opts.local_rank >= 0 ? opts.local_rank : spec.local_rank;
  if (!opts.master_addr.empty()) spec.master_addr = opts.master_addr;
  if (opts.master_port >= 0) spec.master_port = opts.master_port;
  spec.timeout_seconds = opts.timeout_seconds;
  if (spec.world_size <= 1) return nullptr;
  auto group = std::make_shared<const ProcessGroupContext>(spec);
  if (!group->is_main()) Progress::set_enabled(false);
  return group;
}

}  // namespace sm::cli
