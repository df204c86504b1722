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

namespace c10d {
class Work;
}

namespace sm {

struct ProcessGroupSpec {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double timeout_seconds = 300;  // rendezvous and every collective
};

// A TCP port of the loopback interface that is free right now (a one-machine
// job that names no MASTER_PORT).
int free_loopback_port();

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
  // over ranks (GradientReducer) gives the one-process gradient.
  torch::Tensor all_gather_rows(const torch::Tensor& rows) const;
  // Overwrites `tensors` with rank 0's values (in place).
  void broadcast(const std::vector<torch::Tensor>& tensors) const;
  void barrier() const;

 private:
  friend class GradientReducer;
  // Runs one collective; a failure or timeout becomes an error naming this
  // rank, the collective and the timeout.
  void run(const char* what, const std::function<void()>& collective) const;

  struct Group;  // the c10d objects, kept out of this header
  ProcessGroupSpec spec_;
  std::unique_ptr<Group> group_;
};

// Sums parameter gradients over ranks while backward runs, as PyTorch's DDP
// does: a hook on each parameter copies its gradient into a flat bucket as
// autograd produces it, and a bucket's all-reduce starts as soon as all its
// gradients are in, so communication overlaps the rest of the backward pass.
// Buckets hold parameters in reverse registration order (roughly the order
// backward produces them) and start strictly in bucket order, the same on
// every rank whatever order the hooks fire in. Usage, each step:
// backward(), then finish(). A parameter that got no gradient in a step keeps
// none (it adds zeros to its bucket's sum, as on the ranks that all run the
// same graph).
class GradientReducer {
 public:
  GradientReducer(const ProcessGroupContext& group, std::vector<torch::Tensor> params);
  ~GradientReducer();  // removes the hooks
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Starts the buckets still waiting (those with a parameter that got no
  // gradient), waits for every all-reduce and writes the sums into the
  // parameters' .grad; then the next step's gradients may come.
  void finish();

 private:
  struct Bucket {
    torch::Tensor buffer;                 // flat, this step's gradients of `members`
    std::vector<size_t> members;          // indices into params_
    size_t arrived = 0;                   // gradients copied in this step
    c10::intrusive_ptr<c10d::Work> work;  // the running all-reduce, once started
  };
  void on_gradient(size_t param, const torch::Tensor& grad);
  void start_ready_buckets();  // every complete bucket from next_bucket_ on, in order

  const ProcessGroupContext& group_;
  std::vector<torch::Tensor> params_;
  std::vector<size_t> bucket_of_;                   // param -> bucket
  std::vector<int64_t> offset_of_;                  // param -> its first element in the bucket
  std::vector<bool> arrived_;                       // param -> its gradient is in this step
  std::vector<std::pair<size_t, unsigned>> hooks_;  // (param, its hook's handle)
  std::vector<Bucket> buckets_;
  size_t next_bucket_ = 0;  // the first bucket not yet started
};

}  // namespace sm
