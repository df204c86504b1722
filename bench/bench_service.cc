// Load benchmark of the search service on loopback: latency p50/p99 and
// queries/s of POST /search under concurrent clients, per gallery size and
// search mode (first stage / two-stage vs exhaustive scoring).
//
// Galleries are random: N images of R regions with random features, boxes and
// a two-object scene graph, one caption each, and freshly initialised models
// (the cost of search does not depend on what the weights learnt). Results go
// to bench/results/service.json.
//
//   build/bench_service [--sizes 1000,10000,100000] [--graph-sizes 1000] [--clients 4]
//                       [--requests 200] [--seconds 20] [--out bench/results/service.json]
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/progress.h"
#include "scenematch/core/runtime.h"
#include "scenematch/data/npy.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/models/checkpoint.h"
#include "scenematch/search/http.h"
#include "scenematch/search/server.h"
#include "support/untrained_checkpoint.h"

using namespace sm;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kNouns = {"man", "woman", "dog", "cat", "horse", "child", "ball", "tree", "car", "cup"};
const std::vector<std::string> kVerbs = {"chasing", "riding", "holding", "near", "watching", "pulling"};
constexpr int kRegions = 8, kFeatures = 64;

std::string caption(std::mt19937_64& rng) {
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  return "a " + pick(kNouns) + " " + pick(kVerbs) + " a " + pick(kNouns);
}

// DIR/test_*: N random images with one caption each, and a vocabulary.
Vocab write_gallery(const std::string& dir, int64_t n) {
  fs::create_directories(dir);
  std::mt19937_64 rng(n);
  torch::manual_seed(n);
  const int64_t chunk = 10000;
  NpyWriter features(dir + "/test_ims.npy", {n, kRegions, kFeatures});
  NpyWriter boxes(dir + "/test_ims_bbx.npy", {n, kRegions, 4});
  for (int64_t b = 0; b < n; b += chunk) {
    const int64_t m = std::min(chunk, n - b);
    torch::Tensor f = torch::randn({m, kRegions, kFeatures}).contiguous();
    features.append(f.data_ptr<float>(), f.numel());
    torch::Tensor xy = torch::rand({m, kRegions, 2}) * 300;
    torch::Tensor box = torch::cat({xy, xy + 50 + torch::rand({m, kRegions, 2}) * 50}, 2).contiguous();
    boxes.append(box.data_ptr<float>(), box.numel());
  }
  features.close();
  boxes.close();
  write_npy(dir + "/test_ims_size.npy", torch::full({n, 2}, 400.0f));
  std::ofstream caps(dir + "/test_caps.txt"), vsg(dir + "/test_vsg.jsonl");
  for (int64_t i = 0; i < n; ++i) {
    caps << caption(rng) << "\n";
    vsg << R"({"objects":[{"region":0,"label":")" << kNouns[rng() % kNouns.size()] << R"("},{"region":1,"label":")"
        << kNouns[rng() % kNouns.size()] << R"("}],"relations":[{"subject":0,"predicate":")"
        << kVerbs[rng() % kVerbs.size()] << R"(","object":1}]})"
        << "\n";
  }
  std::vector<std::string> words = {"a"};
  words.insert(words.end(), kNouns.begin(), kNouns.end());
  words.insert(words.end(), kVerbs.begin(), kVerbs.end());
  return Vocab::build({words}, 1);
}

struct LoadResult {
  int64_t requests = 0, errors = 0;
  double seconds = 0, p50 = 0, p99 = 0, qps = 0;
};

// `clients` threads send `requests` queries in all (fewer when `seconds` run out).
LoadResult load(int port, bool exhaustive, int clients, int64_t requests, double seconds) {
  std::atomic<int64_t> next{0}, errors{0};
  std::vector<std::vector<double>> latencies(clients);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(120);
      std::mt19937_64 rng(c);
      while (next++ < requests && std::chrono::steady_clock::now() < deadline) {
        const Json body = {{"text", caption(rng)}, {"k", 10}, {"exhaustive", exhaustive}};
        const auto t0 = std::chrono::steady_clock::now();
        auto res = client.Post("/search", body.dump(), "application/json");
        if (!res || res->status != 200) ++errors;
        latencies[c].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  LoadResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  r.requests = static_cast<int64_t>(all.size());
  r.errors = errors;
  if (!all.empty()) {
    r.p50 = all[all.size() / 2];
    r.p99 = all[std::min(all.size() - 1, static_cast<size_t>(all.size() * 0.99))];
  }
  r.qps = r.requests / r.seconds;
  return r;
}

std::vector<int64_t> parse_sizes(const std::string& s) {
  std::vector<int64_t> sizes;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) sizes.push_back(std::stoll(item));
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  ensure_blas_kernels(argc, argv);
  std::string sizes_arg = "1000,10000,100000", graph_sizes_arg = "1000", out = "bench/results/service.json";
  int clients = 4;
  int64_t requests = 200;
  double seconds = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--sizes")
      sizes_arg = value;
    else if (flag == "--graph-sizes")
      graph_sizes_arg = value;
    else if (flag == "--clients")
      clients = std::stoi(value);
    else if (flag == "--requests")
      requests = std::stoll(value);
    else if (flag == "--seconds")
      seconds = std::stod(value);
    else if (flag == "--out")
      out = value;
    else {
      std::fprintf(stderr, "bench_service: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  Progress::set_enabled(false);
  set_threads(1);  // one thread per request; concurrency comes from the server's workers
  char tmpl[] = "/tmp/sm_bench_service_XXXXXX";
  const std::string root = mkdtemp(tmpl);

  Json rows = Json::array();
  std::printf("%-6s %8s %-11s %9s %9s %9s %8s %6s\n", "model", "images", "mode", "p50 ms", "p99 ms", "queries/s",
              "requests", "errors");
  auto run = [&](const std::string& model, int64_t n) {
    const std::string dir = cat(root, "/", model, "_", n);
    sm::testing::save_untrained_checkpoint(model, kFeatures, write_gallery(dir, n), dir + "/model.ckpt");
    IndexOptions o;
    o.checkpoint = dir + "/model.ckpt";
    o.data = dir;
    o.out = dir + "/index";
    o.captions = false;
    const auto build_start = std::chrono::steady_clock::now();
    build_index(o);
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
    auto index = SearchIndex::open(o.out);
    ServerOptions so;
    so.port = 0;
    so.threads = clients;
    SearchServer server(*index, so);
    const int port = server.bind();
    std::thread serving([&] { server.run(); });
    for (bool exhaustive : {false, true}) {
      const LoadResult r = load(port, exhaustive, clients, requests, seconds);
      const std::string mode = exhaustive ? "exhaustive" : index->two_stage() ? "two-stage" : "first-stage";
      std::printf("%-6s %8lld %-11s %9.2f %9.2f %9.1f %8lld %6lld\n", model.c_str(), static_cast<long long>(n),
                  mode.c_str(), r.p50, r.p99, r.qps, static_cast<long long>(r.requests),
                  static_cast<long long>(r.errors));
      std::fflush(stdout);
      rows.push_back({{"model", model},
                      {"images", n},
                      {"mode", mode},
                      {"p50_ms", r.p50},
                      {"p99_ms", r.p99},
                      {"qps", r.qps},
                      {"requests", r.requests},
                      {"errors", r.errors},
                      {"seconds", r.seconds},
                      {"index_build_s", build_s}});
    }
    server.stop();
    serving.join();
    fs::remove_all(dir);
  };
  for (int64_t n : parse_sizes(sizes_arg)) run("vsepp", n);
  for (int64_t n : parse_sizes(graph_sizes_arg)) run("sgm", n);
  fs::remove_all(root);

  const Json result = {{"clients", clients},
                       {"requests_per_run", requests},
                       {"seconds_limit", seconds},
                       {"hardware_threads", std::thread::hardware_concurrency()},
                       {"rows", rows}};
  fs::create_directories(fs::path(out).parent_path());
  write_file_atomic(out, result.dump(2) + "\n");
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
