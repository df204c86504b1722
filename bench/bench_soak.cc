// Soak of the search service on loopback: valid and malformed requests from
// concurrent clients against one server, bounded in count and time. Reports
// the answers by status, requests that got no answer, the server's resident
// memory after the first and the last thousand requests, p50/p99 of the valid
// requests and whether the server still answers afterwards. Results go to
// bench/results/soak.json.
//
// Malformed requests cycle through: bad JSON, a body over --max-body, invalid
// UTF-8, k out of range, a slow client that sends half its body and stalls
// (the server's read timeout must drop it with a 4xx), and an abrupt
// disconnect halfway through a body (no answer is possible).
//
//   build/bench_soak [--valid 10000] [--malformed 1000] [--clients 8] [--workers 4]
//                    [--read-timeout 0.5] [--max-connections 32] [--seconds 600]
//                    [--out bench/results/soak.json]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/progress.h"
#include "scenematch/core/runtime.h"
#include "scenematch/models/checkpoint.h"
#include "scenematch/search/http.h"
#include "scenematch/search/server.h"
#include "scenematch/synth/generator.h"
#include "scenematch/train/run.h"
#include "support/loopback.h"
#include "support/untrained_checkpoint.h"

using namespace sm;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

enum Malformed { BadJson, Oversized, BadUtf8, KOutOfRange, SlowBody, Disconnect, kKinds };
const char* kKindNames[kKinds] = {"bad_json", "oversized", "bad_utf8", "k_out_of_range", "slow_body", "disconnect"};

int64_t resident_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

// Sends the headers of a 200-byte search body and half of it; then either
// stalls until the server gives up (returns its status, 0 for none) or closes
// at once (returns 0).
int partial_body(int port, bool stall) {
  const int fd = sm::testing::connect_to(port);
  if (fd < 0) return 0;
  const std::string head =
      "POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 200\r\n\r\n{\"text\": \"a dog chasing";
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  int status = 0;
  if (stall) {
    timeval wait{30, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    if (n > 12 && std::string(buf, 9) == "HTTP/1.1 ") status = std::atoi(buf + 9);
  }
  ::close(fd);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  ensure_blas_kernels(argc, argv);
  int64_t valid = 10000, malformed = 1000;
  int clients = 8;
  ServerOptions so;
  so.port = 0;
  so.threads = 4;
  so.read_timeout_s = 0.5;
  so.max_connections = 32;
  double seconds = 600;
  std::string out = "bench/results/soak.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--valid")
      valid = std::stoll(value);
    else if (flag == "--malformed")
      malformed = std::stoll(value);
    else if (flag == "--clients")
      clients = std::stoi(value);
    else if (flag == "--workers")
      so.threads = std::stoi(value);
    else if (flag == "--read-timeout")
      so.read_timeout_s = std::stod(value);
    else if (flag == "--max-connections")
      so.max_connections = std::stoi(value);
    else if (flag == "--seconds")
      seconds = std::stod(value);
    else if (flag == "--out")
      out = value;
    else {
      std::fprintf(stderr, "bench_soak: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  Progress::set_enabled(false);
  set_threads(1);  // one thread per request; concurrency comes from the server's workers

  // The tiny synthetic world's test split behind an untrained VSE++ (the
  // service's work does not depend on what the weights learnt).
  char tmpl[] = "/tmp/sm_bench_soak_XXXXXX";
  const std::string root = mkdtemp(tmpl);
  synth::SynthOptions world = synth::preset_options("tiny");
  synth::generate_dataset(root + "/world", world);
  sm::testing::save_untrained_checkpoint("vsepp", world.feat_dim, dataset_vocab(root + "/world", 1),
                                         root + "/vsepp.ckpt");
  IndexOptions io;
  io.checkpoint = root + "/vsepp.ckpt";
  io.data = root + "/world";
  io.out = root + "/index";
  io.threads = 1;
  build_index(io);
  auto index = SearchIndex::open(io.out);
  const std::vector<std::string>& captions = index->split().captions;
  const int64_t images = index->split().num_images();

  SearchServer server(*index, so);
  const int port = server.bind();
  std::thread serving([&] { server.run(); });

  // Request i is malformed when i % stride == stride - 1: spread evenly.
  const int64_t total = valid + malformed;
  const int64_t stride = malformed > 0 ? std::max<int64_t>(1, total / malformed) : total + 1;
  std::atomic<int64_t> next{0}, done{0}, malformed_sent{0};
  std::mutex mutex;
  std::map<std::string, std::map<int, int64_t>> statuses;  // request kind -> status -> count (0: no answer)
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::pair<int64_t, int64_t>> rss = {{0, resident_kib()}};
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(60);
      std::mt19937_64 rng(c + 1);
      for (int64_t i; (i = next++) < total && Clock::now() < deadline;) {
        std::string kind = "valid";
        int status = 0;
        if (i % stride == stride - 1 && malformed_sent++ < malformed) {
          const int k = static_cast<int>((i / stride) % kKinds);
          kind = kKindNames[k];
          std::string body;
          switch (k) {
            case BadJson:
              body = R"({"text": "a dog", "k": )";
              break;
            case Oversized:
              body = cat(R"({"text": "a dog", "pad": ")", std::string(so.max_body, 'x'), "\"}");
              break;
            case BadUtf8:
              body = "{\"text\": \"a \xff\xfe dog\"}";
              break;
            case KOutOfRange:
              body = cat(R"({"text": "a dog", "k": )", so.max_k + 1 + static_cast<int64_t>(rng() % 1000), "}");
              break;
          }
          if (k == SlowBody || k == Disconnect) {
            status = partial_body(port, k == SlowBody);
          } else if (auto res = client.Post("/search", body, "application/json")) {
            status = res->status;
          }
        } else {
          const Json body = rng() % 4 == 0 ? Json{{"image", static_cast<int64_t>(rng() % images)}, {"k", 10}}
                                           : Json{{"text", captions[rng() % captions.size()]}, {"k", 10}};
          const auto t0 = Clock::now();
          if (auto res = client.Post("/search", body.dump(), "application/json")) status = res->status;
          latencies[c].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        const int64_t n = ++done;
        std::lock_guard<std::mutex> lock(mutex);
        ++statuses[kind][status];
        if (n % 1000 == 0) rss.push_back({n, resident_kib()});
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  rss.push_back({done.load(), resident_kib()});

  // The server still answers after the soak.
  httplib::Client probe("127.0.0.1", port);
  auto health = probe.Get("/health");
  const bool alive = health && health->status == 200;
  server.stop();
  serving.join();
  fs::remove_all(root);

  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto percentile = [&](double q) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(all.size() * q))];
  };
  Json by_kind = Json::object();
  int64_t valid_done = 0, valid_ok = 0, malformed_4xx = 0, malformed_expected = 0, unanswered = 0;
  for (const auto& [kind, counts] : statuses) {
    for (const auto& [status, n] : counts) {
      by_kind[kind][std::to_string(status)] = n;
      if (kind == "valid") valid_done += n;
      if (kind == "valid" && status == 200) valid_ok += n;
      if (kind != "valid" && kind != "disconnect") malformed_expected += n;
      if (kind != "valid" && status >= 400 && status < 500) malformed_4xx += n;
      if (status == 0 && kind != "disconnect") unanswered += n;
    }
  }
  // RSS after the first thousand and after the last request.
  const int64_t rss_first = rss.size() > 1 ? rss[1].second : rss[0].second, rss_last = rss.back().second;
  const Json result = {
      {"requests", done.load()},
      {"valid", valid},
      {"malformed", malformed},
      {"clients", clients},
      {"server",
       {{"workers", so.threads}, {"read_timeout_s", so.read_timeout_s}, {"max_connections", so.max_connections}}},
      {"seconds", elapsed},
      {"valid_200", valid_ok},
      {"malformed_4xx", malformed_4xx},
      {"malformed_answerable", malformed_expected},
      {"unanswered", unanswered},
      {"by_kind_and_status", by_kind},
      {"p50_ms", percentile(0.5)},
      {"p99_ms", percentile(0.99)},
      {"rss_kib_after_first_1000", rss_first},
      {"rss_kib_at_end", rss_last},
      {"rss_growth_percent", rss_first > 0 ? 100.0 * (rss_last - rss_first) / rss_first : 0.0},
      {"rss_kib_every_1000", rss},
      {"server_alive_after", alive},
      {"hardware_threads", std::thread::hardware_concurrency()}};
  std::printf("%s\n", result.dump(2).c_str());
  fs::create_directories(fs::path(out).parent_path());
  write_file_atomic(out, result.dump(2) + "\n");
  std::printf("wrote %s\n", out.c_str());
  return alive && unanswered == 0 && malformed_4xx == malformed_expected && valid_ok == valid_done ? 0 : 1;
}
