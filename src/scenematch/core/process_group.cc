#include "scenematch/core/process_group.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include "scenematch/core/error.h"

namespace sm {
namespace {

// Gradients are summed in flat buffers of at most this many elements: one
// collective per bucket instead of one per parameter. The first bucket (the
// last layers, whose gradients come first) is 1 MiB of floats, as in DDP, so
// that communication starts early in the backward pass.
constexpr int64_t kBucketElements = int64_t{1} << 22;
constexpr int64_t kFirstBucketElements = int64_t{1} << 18;

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

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("cannot open a socket to find a free port; pass --master-port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) fail("cannot find a free port; pass --master-port");
  return ntohs(addr.sin_port);
}

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

GradientReducer::GradientReducer(const ProcessGroupContext& group, std::vector<torch::Tensor> params)
    : group_(group), params_(std::move(params)) {
  if (group_.world_size() == 1) return;  // nothing to sum: no hooks, finish() does nothing
  const size_t n = params_.size();
  bucket_of_.resize(n);
  offset_of_.resize(n);
  arrived_.assign(n, false);
  // Reverse registration order: backward produces the last layers' gradients
  // first. A bucket holds one dtype and at most kBucketElements; the first is
  // smaller so that communication starts early.
  std::vector<int64_t> sizes;
  for (size_t k = n; k-- > 0;) {
    const torch::Tensor& p = params_[k];
    if (!p.requires_grad()) continue;
    const int64_t cap = buckets_.size() == 1 ? kFirstBucketElements : kBucketElements;  // the open bucket's
    if (buckets_.empty() || params_[buckets_.back().members.front()].scalar_type() != p.scalar_type() ||
        sizes.back() + p.numel() > cap) {
      buckets_.push_back({});
      sizes.push_back(0);
    }
    bucket_of_[k] = buckets_.size() - 1;
    offset_of_[k] = sizes.back();
    buckets_.back().members.push_back(k);
    sizes.back() += p.numel();
  }
  for (size_t b = 0; b < buckets_.size(); ++b)
    buckets_[b].buffer = torch::empty({sizes[b]}, params_[buckets_[b].members.front()].options().requires_grad(false));
  for (size_t k = 0; k < n; ++k)
    if (params_[k].requires_grad())
      hooks_.emplace_back(k, params_[k].register_hook([this, k](const torch::Tensor& grad) { on_gradient(k, grad); }));
}

GradientReducer::~GradientReducer() {
  for (const auto& [param, hook] : hooks_) params_[param].remove_hook(hook);
}

void GradientReducer::on_gradient(size_t param, const torch::Tensor& grad) {
  // Autograd calls a leaf's hook once a backward pass, with its summed gradient.
  Bucket& b = buckets_[bucket_of_[param]];
  if (arrived_[param]) fail("gradient reducer: a second gradient for parameter ", param, " before finish()");
  {
    torch::NoGradGuard no_grad;
    b.buffer.slice(0, offset_of_[param], offset_of_[param] + grad.numel()).copy_(grad.reshape({-1}));
  }
  arrived_[param] = true;
  ++b.arrived;
  start_ready_buckets();
}

void GradientReducer::start_ready_buckets() {
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].arrived == buckets_[next_bucket_].members.size()) {
    Bucket& b = buckets_[next_bucket_++];
    std::vector<torch::Tensor> buffer{b.buffer};
    group_.run("gradient all-reduce", [&] { b.work = group_.group_->gloo->allreduce(buffer); });
  }
}

void GradientReducer::finish() {
  if (group_.world_size() == 1) return;
  torch::NoGradGuard no_grad;
  // Parameters that got no gradient this step count as zeros, so that every
  // bucket starts (in order) on every rank.
  for (Bucket& b : buckets_)
    for (size_t k : b.members)
      if (!arrived_[k]) {
        b.buffer.slice(0, offset_of_[k], offset_of_[k] + params_[k].numel()).zero_();
        ++b.arrived;
      }
  start_ready_buckets();
  for (Bucket& b : buckets_) {
    group_.run("gradient all-reduce", [&] { b.work->wait(); });
    b.work.reset();
    for (size_t k : b.members) {
      torch::Tensor& p = params_[k];
      if (arrived_[k]) p.mutable_grad().copy_(b.buffer.slice(0, offset_of_[k], offset_of_[k] + p.numel()).view_as(p));
      arrived_[k] = false;
    }
    b.arrived = 0;
  }
  next_bucket_ = 0;
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
