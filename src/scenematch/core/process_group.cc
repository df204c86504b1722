#include "scenematch/core/process_group.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "scenematch/core/error.h"

namespace sm {
namespace {

// Gradients are summed in flat buffers of at most this many elements: one
// collective per bucket instead of one per parameter.
constexpr int64_t kBucketElements = int64_t{1} << 22;

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  if (*end || parsed < 0) fail("environment variable ", name, "='", value, "' is not a non-negative integer");
  return static_cast<int>(parsed);
}

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0; }

// The Gloo transport this rank listens on: GLOO_SOCKET_IFNAME as in PyTorch,
// loopback for a one-machine job, else the interface of this host's name.
std::shared_ptr<gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

struct ProcessGroupContext::Group {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

ProcessGroupSpec process_group_spec_from_env() {
  ProcessGroupSpec spec;
  spec.world_size = env_int("WORLD_SIZE", 1);
  spec.rank = env_int("RANK", 0);
  spec.local_rank = env_int("LOCAL_RANK", spec.rank);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) spec.master_addr = addr;
  spec.master_port = env_int("MASTER_PORT", spec.master_port);
  return spec;
}

ProcessGroupContext::ProcessGroupContext(const ProcessGroupSpec& spec)
    : spec_(spec), group_(std::make_unique<Group>()) {
  if (spec.world_size < 1 || spec.rank < 0 || spec.rank >= spec.world_size)
    fail("process group: rank ", spec.rank, " is outside world size ", spec.world_size,
         " (RANK must be in 0..WORLD_SIZE-1)");
  if (spec.master_port < 1 || spec.master_port > 65535)
    fail("process group: MASTER_PORT ", spec.master_port, " is not a TCP port");
  if (spec.timeout_seconds <= 0) fail("process group: the timeout must be positive, got ", spec.timeout_seconds);
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(spec.master_port);
  store_options.isServer = spec.rank == 0;
  store_options.numWorkers = spec.world_size;
  store_options.timeout = to_ms(spec.timeout_seconds);
  try {
    group_->store = c10::make_intrusive<c10d::TCPStore>(spec.master_addr, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create(to_ms(spec.timeout_seconds));
    options->devices.push_back(gloo_device(spec.master_addr));
    group_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, spec.rank, spec.world_size, options);
  } catch (const std::exception& e) {
    fail("rank ", spec.rank, " of ", spec.world_size, ": cannot join the process group at ", spec.master_addr, ":",
         spec.master_port, " within ", spec.timeout_seconds,
         " s (every rank must start with the same MASTER_ADDR/MASTER_PORT and rank 0 must be able to listen on the "
         "port): ",
         e.what());
  }
}

ProcessGroupContext::~ProcessGroupContext() = default;

void ProcessGroupContext::run(const char* what, const std::function<void()>& collective) const {
  try {
    collective();
  } catch (const std::exception& e) {
    // c10d's messages are many lines with a C++ backtrace: the first says what happened.
    std::string first_line = e.what();
    first_line = first_line.substr(0, first_line.find('\n'));
    fail("rank ", spec_.rank, " of ", spec_.world_size, ": ", what,
         " failed (another rank died, or hung past the timeout of ", spec_.timeout_seconds, " s): ", first_line);
  }
}

std::pair<int64_t, int64_t> ProcessGroupContext::shard(int64_t n) const {
  const int64_t world = spec_.world_size, rank = spec_.rank;
  const int64_t base = n / world, extra = n % world;
  const int64_t begin = rank * base + std::min(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

torch::Tensor ProcessGroupContext::all_gather_rows(const torch::Tensor& rows) const {
  if (spec_.world_size == 1) return rows;
  const int world = spec_.world_size;
  std::vector<int64_t> counts;
  {
    std::vector<torch::Tensor> in{torch::tensor({rows.size(0)}, torch::kLong)};
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int r = 0; r < world; ++r) out[0].push_back(torch::empty({1}, torch::kLong));
    run("all-gather of row counts", [&] { group_->gloo->allgather(out, in)->wait(); });
    for (const auto& c : out[0]) counts.push_back(c.item<int64_t>());
  }
  // Gloo gathers equal shapes: every rank's rows are padded to the largest count.
  auto shape = rows.sizes().vec();
  shape[0] = *std::max_element(counts.begin(), counts.end());
  std::vector<torch::Tensor> in{torch::zeros(shape, rows.options().requires_grad(false))};
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int r = 0; r < world; ++r) out[0].push_back(torch::empty(shape, in[0].options()));
  {
    torch::NoGradGuard no_grad;
    in[0].slice(0, 0, rows.size(0)).copy_(rows);
  }
  run("all-gather of rows", [&] { group_->gloo->allgather(out, in)->wait(); });
  // The other ranks' rows are constants here; this rank's are `rows` itself,
  // so autograd sends the result's gradient back to them alone.
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < world; ++r) parts.push_back(r == spec_.rank ? rows : out[0][r].slice(0, 0, counts[r]));
  return torch::cat(parts);
}

void ProcessGroupContext::all_reduce_gradients(const std::vector<torch::Tensor>& params) const {
  if (spec_.world_size == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> bucket;
  int64_t elements = 0;
  auto flush = [&] {
    if (bucket.empty()) return;
    std::vector<torch::Tensor> flat;
    for (const auto& g : bucket) flat.push_back(g.reshape({-1}));
    std::vector<torch::Tensor> buffer{torch::cat(flat)};
    run("gradient all-reduce", [&] { group_->gloo->allreduce(buffer)->wait(); });
    int64_t offset = 0;
    for (auto& g : bucket) {
      g.copy_(buffer[0].slice(0, offset, offset + g.numel()).view_as(g));
      offset += g.numel();
    }
    bucket.clear();
    elements = 0;
  };
  for (const auto& p : params) {
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (!bucket.empty() && (bucket.front().scalar_type() != g.scalar_type() || elements + g.numel() > kBucketElements))
      flush();
    bucket.push_back(g);
    elements += g.numel();
  }
  flush();
}

void ProcessGroupContext::broadcast(const std::vector<torch::Tensor>& tensors) const {
  if (spec_.world_size == 1) return;
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    std::vector<torch::Tensor> one{t.detach()};
    run("broadcast", [&] { group_->gloo->broadcast(one)->wait(); });
  }
}

void ProcessGroupContext::barrier() const {
  if (spec_.world_size == 1) return;
  run("barrier", [&] { group_->gloo->barrier()->wait(); });
}

}  // namespace sm
