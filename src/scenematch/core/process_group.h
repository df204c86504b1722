// Several processes working as one job on PyTorch's own distributed engine:
// torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT), rendezvous through c10d's TCPStore, Gloo collectives on the
// CPU. Every collective runs under a bounded timeout, so a rank that dies or
// hangs ends the job with an error naming this rank (docs/training.md).
#pragma once
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sm {

struct ProcessGroupSpec {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double timeout_seconds = 300;  // rendezvous and every collective
};

// The spec torchrun's environment describes (a single process when
// WORLD_SIZE is unset); errors name the variable that is malformed.
ProcessGroupSpec process_group_spec_from_env();

class ProcessGroupContext {
 public:
  // Rendezvous of spec.world_size processes; rank 0 hosts the TCPStore.
  explicit ProcessGroupContext(const ProcessGroupSpec& spec);
  ~ProcessGroupContext();

  int rank() const { return spec_.rank; }
  int world_size() const { return spec_.world_size; }
  int local_rank() const { return spec_.local_rank; }
  bool is_main() const { return spec_.rank == 0; }

  // [begin, end) of this rank's contiguous share of n items (the first n %
  // world ranks take one more), so shards concatenated in rank order are 0..n.
  std::pair<int64_t, int64_t> shard(int64_t n) const;

  // Every rank's rows concatenated in rank order (ranks may hold different
  // row counts; other dims must agree). Differentiable: the gradient of the
  // result flows back to this rank's rows only, so when every rank computes
  // the same function of the gathered tensor, summing parameter gradients
  // over ranks (all_reduce_gradients) gives the one-process gradient.
  torch::Tensor all_gather_rows(const torch::Tensor& rows) const;
  // Sums the gradients of `params` over ranks in flat buckets, in place.
  // Parameters without a gradient are skipped (the same on every rank: all
  // run the same graph).
  void all_reduce_gradients(const std::vector<torch::Tensor>& params) const;
  // Overwrites `tensors` with rank 0's values (in place).
  void broadcast(const std::vector<torch::Tensor>& tensors) const;
  void barrier() const;

 private:
  // Runs one collective; a failure or timeout becomes an error naming this
  // rank, the collective and the timeout.
  void run(const char* what, const std::function<void()>& collective) const;

  struct Group;  // the c10d objects, kept out of this header
  ProcessGroupSpec spec_;
  std::unique_ptr<Group> group_;
};

}  // namespace sm
