// The HTTP service on loopback: search, errors and limits, concurrent
// requests, metrics, the page and pictures, and SIGTERM on the real command.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "scenematch/core/progress.h"
#include "scenematch/core/runtime.h"
#include "scenematch/search/http.h"
#include "scenematch/search/server.h"
#include "scenematch/synth/generator.h"
#include "scenematch/train/run.h"
#include "support/loopback.h"
#include "support/temp_dir.h"
#include "support/untrained_checkpoint.h"

using namespace sm;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxK = 8;
constexpr size_t kMaxBody = 2048, kMaxText = 200;
constexpr double kReadTimeout = 1;
constexpr int kWorkers = 4;

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = std::make_unique<sm::testing::TempDir>("sm_test_service");
    root_ = temp_->path();
    Progress::set_enabled(false);
    set_threads(1);
    synth::SynthOptions synth_options = synth::preset_options("tiny");
    synth_options.test = 12;
    synth_options.seed = 5;
    synth::generate_dataset(root_ + "/world", synth_options);

    sm::testing::save_untrained_checkpoint("vsepp", 64, dataset_vocab(root_ + "/world", 1), root_ + "/vsepp.ckpt");

    IndexOptions o;
    o.checkpoint = root_ + "/vsepp.ckpt";
    o.data = root_ + "/world";
    o.out = root_ + "/idx";
    o.threads = 1;
    build_index(o);

    index_ = SearchIndex::open(o.out).release();
    ServerOptions s;
    s.port = 0;
    s.threads = kWorkers;
    s.max_k = kMaxK;
    s.max_body = kMaxBody;
    s.max_text = kMaxText;
    s.read_timeout_s = kReadTimeout;
    server_ = new SearchServer(*index_, s);
    port_ = server_->bind();
    thread_ = new std::thread([] { server_->run(); });
  }
  static void TearDownTestSuite() {
    server_->stop();
    thread_->join();
    delete thread_;
    delete server_;
    delete index_;
    temp_.reset();
  }

  static httplib::Result post(const std::string& body) {
    httplib::Client client("127.0.0.1", port_);
    return client.Post("/search", body, "application/json");
  }
  // Status and the "error" message of a request expected to fail.
  static void expect_error(const std::string& body, int status, const std::string& words) {
    auto res = post(body);
    ASSERT_TRUE(res) << body;
    EXPECT_EQ(res->status, status) << body << " -> " << res->body;
    const Json j = Json::parse(res->body);
    ASSERT_TRUE(j.contains("error")) << res->body;
    EXPECT_NE(j["error"].get<std::string>().find(words), std::string::npos) << j["error"];
  }

  static std::unique_ptr<sm::testing::TempDir> temp_;  // holds root_
  static std::string root_;
  static SearchIndex* index_;
  static SearchServer* server_;
  static std::thread* thread_;
  static int port_;
};
std::unique_ptr<sm::testing::TempDir> ServiceTest::temp_;
std::string ServiceTest::root_;
SearchIndex* ServiceTest::index_ = nullptr;
SearchServer* ServiceTest::server_ = nullptr;
std::thread* ServiceTest::thread_ = nullptr;
int ServiceTest::port_ = 0;

}  // namespace

TEST_F(ServiceTest, SearchesByTextAndByImage) {
  auto res = post(R"({"text": "a dog chasing a cat", "k": 3})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const Json j = Json::parse(res->body);
  ASSERT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["mode"], "embedding");
  EXPECT_EQ(j["query"]["graph"]["tokens"], Json({"a", "dog", "chasing", "a", "cat"}));
  ASSERT_EQ(j["query"]["graph"]["relations"].size(), 1u);
  EXPECT_EQ(j["query"]["graph"]["relations"][0]["predicate"], "chasing");
  // The same ranking as the library gives.
  SearchOptions o;
  o.k = 3;
  const SearchResult direct = index_->search_text("a dog chasing a cat", o);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(j["results"][i]["rank"], i + 1);
    EXPECT_EQ(j["results"][i]["image"], direct.hits[i].id);
    EXPECT_NEAR(j["results"][i]["score"].get<double>(), direct.hits[i].score, 1e-5);
  }

  auto by_image = post(R"({"image": 2, "k": 4})");
  ASSERT_TRUE(by_image);
  ASSERT_EQ(by_image->status, 200) << by_image->body;
  const Json captions = Json::parse(by_image->body)["results"];
  ASSERT_EQ(captions.size(), 4u);
  for (const auto& c : captions) EXPECT_EQ(c["text"], index_->split().captions[c["caption"].get<int64_t>()]);

  httplib::Client client("127.0.0.1", port_);
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Json::parse(health->body)["images"], 12);
}

TEST_F(ServiceTest, BadRequestsGetJsonErrorsAndTheServerKeepsServing) {
  expect_error("{\"text\": ", 400, "not valid JSON");
  expect_error("[1, 2]", 400, "JSON object");
  expect_error(R"({"k": 3})", 422, "'text'");
  expect_error(R"({"text": "a dog", "image": 1})", 422, "exactly one");
  expect_error(cat(R"({"text": "a dog", "k": )", kMaxK + 1, "}"), 422, "'k' must be between 1 and 8");
  expect_error(R"({"text": "a dog", "k": 0})", 422, "'k'");
  expect_error(R"({"text": "a dog", "k": "five"})", 422, "integer");
  expect_error(R"({"text": "   "})", 422, "empty");
  expect_error(R"({"text": 42})", 422, "string");
  expect_error(cat(R"({"text": ")", std::string(kMaxText + 1, 'a'), "\"}"), 413, "limit");
  expect_error(cat(R"({"text": "a dog", "pad": ")", std::string(kMaxBody, 'x'), "\"}"), 413, "too large");
  expect_error(R"({"image": 99})", 404, "no image 99");
  expect_error(R"({"image": "two"})", 422, "integer");
  expect_error("{\"text\": \"a \xff\xfe dog\"}", 400, "not valid JSON");
  // First-stage parameters must fit the index (this one is exact: Flat).
  expect_error(R"({"text": "a dog", "nprobe": 4})", 422, "nprobe applies to IVF");
  expect_error(R"({"image": 1, "efSearch": 16})", 422, "efSearch applies to HNSW");
  expect_error(R"({"text": "a dog", "efSearch": 0})", 422, "'efSearch' must be between 1");
  expect_error(R"({"text": "a dog", "nprobe": "all"})", 422, "'nprobe' must be an integer");

  httplib::Client client("127.0.0.1", port_);
  auto missing = client.Get("/nowhere");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(Json::parse(missing->body).contains("error"));
  auto ok = post(R"({"text": "a man riding a horse"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(SearchRequest, ParsesTheFieldsAndRefusesWhatIsOutOfBounds) {
  ServerOptions limits;
  limits.max_k = 5;
  const SearchRequest text = parse_search_request(R"({"text": "a dog", "k": 5, "exhaustive": true})", limits);
  EXPECT_TRUE(text.by_text);
  EXPECT_EQ(text.text, "a dog");
  EXPECT_EQ(text.options.k, 5);
  EXPECT_TRUE(text.options.exhaustive);
  const SearchRequest image = parse_search_request(R"({"image": 3})", limits);
  EXPECT_FALSE(image.by_text);
  EXPECT_EQ(image.image, 3);
  EXPECT_EQ(image.options.k, limits.max_k) << "the default k is held to the limit too";
  auto status = [&](const std::string& body) {
    try {
      parse_search_request(body, limits);
    } catch (const RequestError& e) {
      return e.status;
    }
    return 200;
  };
  EXPECT_EQ(status(R"({"text": "a dog", "k": 6})"), 422);
  EXPECT_EQ(status(R"({"text": "a dog", "k": 18446744073709551615})"), 422);
  EXPECT_EQ(status(R"({"text": "a dog", "candidates": -1})"), 422);
  EXPECT_EQ(status("{\"text\": \"\xc3\"}"), 400);
  EXPECT_EQ(status(R"("a dog")"), 400);
}

TEST_F(ServiceTest, StalledClientsAreDroppedAndOthersStillServed) {
  // One stalled client per worker: half a request line, then nothing.
  std::vector<int> stalled;
  for (int i = 0; i < kWorkers; ++i) {
    const int fd = sm::testing::connect_to(port_);
    ASSERT_GE(fd, 0);
    const std::string partial = "POST /search HTTP/1.1\r\nContent-Len";
    ASSERT_EQ(::send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
    stalled.push_back(fd);
  }
  auto ok = post(R"({"text": "a man riding a horse"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  // The server closed every stalled connection (recv sees the end, not a hang).
  for (int fd : stalled) {
    timeval wait{static_cast<time_t>(10 * kReadTimeout), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    char buf[256];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    }
    EXPECT_EQ(n, 0) << "the server left a stalled connection open";
    ::close(fd);
  }
}

TEST_F(ServiceTest, ConcurrentRequestsGetTheSameAnswersAndAreCounted) {
  const int64_t before = server_->metrics()["requests"]["total"].get<int64_t>();
  const std::vector<std::string> queries = {"a dog chasing a cat", "a man riding a horse", "a woman holding a cup"};
  std::vector<std::string> expected;
  for (const auto& q : queries) expected.push_back(Json::parse(post(Json{{"text", q}}.dump())->body)["results"].dump());

  constexpr int kThreads = 6, kPerThread = 8;
  std::atomic<int> ok{0}, same{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", port_);
      for (int i = 0; i < kPerThread; ++i) {
        const size_t q = (t + i) % queries.size();
        auto res = client.Post("/search", Json{{"text", queries[q]}}.dump(), "application/json");
        if (!res || res->status != 200) continue;
        ++ok;
        if (Json::parse(res->body)["results"].dump() == expected[q]) ++same;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(same.load(), kThreads * kPerThread);

  httplib::Client client("127.0.0.1", port_);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  const Json m = Json::parse(res->body);
  EXPECT_GE(m["requests"]["total"].get<int64_t>() - before, kThreads * kPerThread + 3);
  EXPECT_GE(m["requests"]["by_route"]["POST /search"].get<int64_t>(), kThreads * kPerThread + 3);
  const Json& buckets = m["search_latency_ms"]["buckets"];
  EXPECT_EQ(buckets.back()["le"], "+Inf");
  EXPECT_EQ(buckets.back()["count"], m["search_latency_ms"]["count"]);
  for (size_t b = 1; b < buckets.size(); ++b) EXPECT_GE(buckets[b]["count"], buckets[b - 1]["count"]);
}

TEST_F(ServiceTest, PageAndPictures) {
  httplib::Client client("127.0.0.1", port_);
  auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<form"), std::string::npos);
  EXPECT_NE(page->body.find("\"/search\""), std::string::npos);

  // Image 3's drawing carries the labels of its scene graph.
  auto svg = client.Get("/image/3");
  ASSERT_TRUE(svg);
  EXPECT_EQ(svg->status, 200);
  EXPECT_EQ(svg->get_header_value("Content-Type"), "image/svg+xml");
  const std::vector<SceneGraph> graphs = read_scene_graphs(root_ + "/world/test_vsg.jsonl");
  ASSERT_FALSE(graphs[3].objects.empty());
  for (const auto& o : graphs[3].objects) EXPECT_NE(svg->body.find(">" + o.label + "<"), std::string::npos) << o.label;
  auto missing = client.Get("/image/12");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

// The real command: starts, answers, and exits 0 on SIGTERM.
TEST_F(ServiceTest, ServeCommandStopsCleanlyOnSigterm) {
  int err[2];
  ASSERT_EQ(::pipe(err), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(err[1], 2);
    ::close(err[0]);
    const std::string index = root_ + "/idx";
    ::execl(SCENEMATCH_CLI, SCENEMATCH_CLI, "serve", "--index", index.c_str(), "--port", "0", "--threads", "1",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(err[1]);
  struct Reaper {  // kills the server if an assertion returns early
    pid_t pid;
    ~Reaper() {
      if (pid > 0) ::kill(pid, SIGKILL), ::waitpid(pid, nullptr, 0);
    }
  } reaper{pid};
  // "serve: ... on http://127.0.0.1:PORT/" names the port.
  std::string log;
  int port = 0;
  char buf[512];
  while (port == 0) {
    const ssize_t n = ::read(err[0], buf, sizeof buf);
    if (n <= 0) break;
    log.append(buf, n);
    const size_t at = log.find("127.0.0.1:");
    if (at != std::string::npos && log.find('/', at) != std::string::npos) port = std::stoi(log.substr(at + 10));
  }
  ASSERT_GT(port, 0) << log;
  httplib::Client client("127.0.0.1", port);
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  ::kill(pid, SIGTERM);
  int status = 0;
  const auto start = std::chrono::steady_clock::now();
  bool exited = false;
  while (!(exited = ::waitpid(pid, &status, WNOHANG) == pid)) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(20)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(exited) << "serve ignored SIGTERM: " << log;
  reaper.pid = 0;
  while (true) {
    const ssize_t n = ::read(err[0], buf, sizeof buf);
    if (n <= 0) break;
    log.append(buf, n);
  }
  ::close(err[0]);
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
  EXPECT_NE(log.find("stopped"), std::string::npos) << log;
}

// The page in headless Chromium: /?q=... runs the query on load; the rendered
// DOM must hold one card per result, in the API's order, with its picture,
// and the query's scene graph.
TEST_F(ServiceTest, BrowserRendersResults) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
  const std::string profile = root_ + "/chromium";
  fs::create_directories(profile);
  const std::string url = cat("http://127.0.0.1:", port_, "/?q=a+dog+chasing+a+cat&k=4");
  const std::string command =
      cat("timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
          "--disable-background-networking --disable-component-update --disable-sync --no-first-run "
          "--user-data-dir=",
          profile, " --virtual-time-budget=20000 --dump-dom '", url, "' 2>/dev/null");
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string dom;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) dom.append(buf, n);
  ASSERT_EQ(::pclose(pipe), 0) << "chromium failed; DOM so far:\n" << dom;

  const Json expected = Json::parse(post(R"({"text": "a dog chasing a cat", "k": 4})")->body);
  size_t at = 0;
  for (const auto& r : expected["results"]) {
    const std::string card = cat("class=\"result\" data-image=\"", r["image"].get<int64_t>(), "\"");
    at = dom.find(card, at);
    ASSERT_NE(at, std::string::npos) << "no card for image " << r["image"] << " in order:\n" << dom;
    EXPECT_NE(dom.find(cat("src=\"/image/", r["image"].get<int64_t>(), "\""), at), std::string::npos);
  }
  size_t cards = 0;
  for (size_t p = dom.find("class=\"result\""); p != std::string::npos; p = dom.find("class=\"result\"", p + 1))
    ++cards;
  EXPECT_EQ(cards, 4u);
  EXPECT_NE(dom.find("dog \u2014chasing\u2192 cat"), std::string::npos) << dom;
  EXPECT_NE(dom.find("4 results"), std::string::npos) << dom;
}
