#include "scenematch/search/server.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>

#include "scenematch/core/atomic_file.h"
#include "scenematch/search/http.h"

namespace fs = std::filesystem;

namespace sm {
namespace {

// Upper bounds (ms) of the latency histogram's buckets; the last is +Inf.
constexpr std::array<double, 12> kLatencyBuckets = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};

std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Pictures of the gallery's images drawn from what the split holds: boxes and
// image sizes, and the scene graph's labelled regions and relations.
class Drawings {
 public:
  explicit Drawings(const Split& split) {
    if (fs::exists(split.file("ims_bbx.npy")) && fs::exists(split.file("ims_size.npy"))) {
      boxes_ = NpyArray::open(split.file("ims_bbx.npy"));
      sizes_ = NpyArray::open(split.file("ims_size.npy"));
    }
    if (fs::exists(split.file("vsg.jsonl"))) graphs_ = read_scene_graphs(split.file("vsg.jsonl"));
  }

  std::string svg(int64_t image) const {
    double width = 400, height = 300;
    torch::Tensor boxes;
    if (boxes_) {
      torch::Tensor size = sizes_->rows(image, image + 1)[0];
      width = size[0].item<double>(), height = size[1].item<double>();
      boxes = boxes_->rows(image, image + 1)[0];
    }
    const double font = std::max(10.0, width / 30);
    std::string out = cat("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ", width, " ", height,
                          "\" class=\"scene\" data-image=\"", image, "\"><rect width=\"", width, "\" height=\"", height,
                          "\" fill=\"#f4f1ea\"/>");
    auto centre = [&](int64_t region) {
      return std::make_pair((boxes[region][0].item<double>() + boxes[region][2].item<double>()) / 2,
                            (boxes[region][1].item<double>() + boxes[region][3].item<double>()) / 2);
    };
    const SceneGraph* graph = image < static_cast<int64_t>(graphs_.size()) ? &graphs_[image] : nullptr;
    if (boxes.defined() && graph) {
      for (const auto& r : graph->relations) {
        auto [x1, y1] = centre(r.subject);
        auto [x2, y2] = centre(r.object);
        out += cat("<line x1=\"", x1, "\" y1=\"", y1, "\" x2=\"", x2, "\" y2=\"", y2,
                   "\" stroke=\"#c0392b\" stroke-width=\"2\"/><text x=\"", (x1 + x2) / 2, "\" y=\"", (y1 + y2) / 2,
                   "\" font-size=\"", font, "\" fill=\"#c0392b\">", escape_xml(r.predicate), "</text>");
      }
      for (const auto& o : graph->objects) {
        const double x1 = boxes[o.region][0].item<double>(), y1 = boxes[o.region][1].item<double>();
        const double x2 = boxes[o.region][2].item<double>(), y2 = boxes[o.region][3].item<double>();
        out += cat("<rect x=\"", x1, "\" y=\"", y1, "\" width=\"", x2 - x1, "\" height=\"", y2 - y1,
                   "\" fill=\"none\" stroke=\"#2c3e50\" stroke-width=\"2\"/><text x=\"", x1 + 3, "\" y=\"", y1 + font,
                   "\" font-size=\"", font, "\" fill=\"#2c3e50\" class=\"label\">", escape_xml(o.label), "</text>");
      }
    } else if (boxes.defined()) {
      for (int64_t r = 0; r < boxes.size(0); ++r)
        out += cat("<rect x=\"", boxes[r][0].item<double>(), "\" y=\"", boxes[r][1].item<double>(), "\" width=\"",
                   (boxes[r][2] - boxes[r][0]).item<double>(), "\" height=\"",
                   (boxes[r][3] - boxes[r][1]).item<double>(), "\" fill=\"none\" stroke=\"#95a5a6\"/>");
    } else {
      out += cat("<text x=\"20\" y=\"40\" font-size=\"24\">image ", image, "</text>");
    }
    return out + "</svg>";
  }

 private:
  std::optional<NpyArray> boxes_, sizes_;
  std::vector<SceneGraph> graphs_;
};

int64_t integer_field(const Json& body, const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
  if (!body.contains(key)) return fallback;
  const Json& v = body[key];
  if (!v.is_number_integer()) throw RequestError{422, cat("'", key, "' must be an integer")};
  const int64_t n = v.get<int64_t>();
  if (n < lo || n > hi) throw RequestError{422, cat("'", key, "' must be between ", lo, " and ", hi, ", got ", n)};
  return n;
}

// The workers' queue, holding at most `cap` connections at once: enqueue()
// runs on the accepting thread, so blocking there stops accepting until a
// connection closes (the kernel's backlog holds the rest).
class CappedQueue : public httplib::TaskQueue {
 public:
  CappedQueue(int threads, int cap) : pool_(threads), cap_(std::max(1, cap)) {}
  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      freed_.wait(lock, [&] { return open_ < cap_ || stopping_; });
      ++open_;
    }
    pool_.enqueue([this, fn = std::move(fn)] {
      fn();
      std::lock_guard<std::mutex> lock(mutex_);
      --open_;
      freed_.notify_one();
    });
  }
  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    freed_.notify_all();
    pool_.shutdown();
  }

 private:
  httplib::ThreadPool pool_;
  std::mutex mutex_;
  std::condition_variable freed_;
  int open_ = 0;
  const int cap_;
  bool stopping_ = false;
};

}  // namespace

SearchRequest parse_search_request(const std::string& body_text, const ServerOptions& limits) {
  Json body;
  try {
    body = Json::parse(body_text);
  } catch (const Json::exception& e) {
    throw RequestError{400, cat("request body is not valid JSON: ", e.what())};
  }
  if (!body.is_object()) throw RequestError{400, "request body must be a JSON object"};
  SearchRequest q;
  q.by_text = body.contains("text");
  if (q.by_text == body.contains("image"))
    throw RequestError{422, "give exactly one of 'text' (find images) or 'image' (find captions)"};
  q.options.k = integer_field(body, "k", std::min<int64_t>(SearchOptions{}.k, limits.max_k), 1, limits.max_k);
  q.options.candidates = integer_field(body, "candidates", limits.candidates, 1, 100000);
  if (body.contains("exhaustive")) {
    if (!body["exhaustive"].is_boolean()) throw RequestError{422, "'exhaustive' must be true or false"};
    q.options.exhaustive = body["exhaustive"].get<bool>();
  }
  // First-stage search parameters (0: the index's own); whether they fit the
  // index's type is checked against the index.
  q.options.ann.nprobe = integer_field(body, "nprobe", 0, 1, std::numeric_limits<int32_t>::max());
  q.options.ann.ef_search = integer_field(body, "efSearch", 0, 1, kMaxEfSearch);
  if (q.by_text) {
    if (!body["text"].is_string()) throw RequestError{422, "'text' must be a string"};
    q.text = body["text"].get<std::string>();
    if (q.text.find_first_not_of(" \t\r\n") == std::string::npos) throw RequestError{422, "'text' is empty"};
    if (q.text.size() > limits.max_text)
      throw RequestError{413, cat("'text' is ", q.text.size(), " bytes; the limit is ", limits.max_text)};
  } else {
    if (!body["image"].is_number_integer()) throw RequestError{422, "'image' must be an integer image id"};
    q.image = body["image"].get<int64_t>();
  }
  return q;
}

struct SearchServer::Impl {
  const SearchIndex& index;
  ServerOptions options;
  Drawings drawings;
  httplib::Server server;

  mutable std::mutex metrics_mutex;
  std::map<std::string, int64_t> by_route, by_status;
  std::array<int64_t, kLatencyBuckets.size() + 1> latency_counts{};
  double latency_sum_ms = 0;
  int64_t searches = 0;

  Impl(const SearchIndex& i, ServerOptions o) : index(i), options(std::move(o)), drawings(i.split()) {}

  void record(const httplib::Request& req, const httplib::Response& res) {
    std::string route = req.path;
    if (route.rfind("/image/", 0) == 0) route = "/image";
    std::lock_guard<std::mutex> lock(metrics_mutex);
    ++by_route[req.method + " " + route];
    ++by_status[std::to_string(res.status)];
  }
  void record_latency(double ms) {
    std::lock_guard<std::mutex> lock(metrics_mutex);
    size_t b = 0;
    while (b < kLatencyBuckets.size() && ms > kLatencyBuckets[b]) ++b;
    ++latency_counts[b];
    latency_sum_ms += ms;
    ++searches;
  }

  Json search(const std::string& body_text) const {
    const SearchRequest q = parse_search_request(body_text, options);
    const SearchOptions& o = q.options;
    try {
      index.check_options(o);
    } catch (const Error& e) {
      throw RequestError{422, e.what()};
    }
    const Split& split = index.split();
    SearchResult r;
    Json out, results = Json::array();
    if (q.by_text) {
      const std::string& text = q.text;
      try {
        r = index.search_text(text, o);
      } catch (const Error& e) {
        throw RequestError{422, e.what()};
      }
      out["query"] = {{"text", text}, {"graph", scene_graph_json(r.query)}};
      for (size_t i = 0; i < r.hits.size(); ++i) {
        const int64_t image = r.hits[i].id;
        results.push_back({{"rank", i + 1},
                           {"image", image},
                           {"score", r.hits[i].score},
                           {"caption", split.captions[image * split.captions_per_image]}});
      }
    } else {
      const int64_t image = q.image;
      if (image < 0 || image >= split.num_images())
        throw RequestError{404, cat("no image ", image, "; ids run from 0 to ", split.num_images() - 1)};
      if (!index.has_captions()) throw RequestError{422, "this index holds no captions (built with --no-captions)"};
      r = index.search_image(image, o);
      out["query"] = {{"image", image}};
      for (size_t i = 0; i < r.hits.size(); ++i) {
        const int64_t caption = r.hits[i].id;
        results.push_back({{"rank", i + 1},
                           {"caption", caption},
                           {"image", split.image_of_caption(caption)},
                           {"text", split.captions[caption]},
                           {"score", r.hits[i].score}});
      }
    }
    out["mode"] = r.mode;
    out["k"] = o.k;
    out["candidates"] = r.candidates;
    if (!o.exhaustive) out["search_params"] = index.search_params(o);
    out["milliseconds"] = r.milliseconds;
    out["results"] = results;
    return out;
  }

  Json metrics() const {
    std::lock_guard<std::mutex> lock(metrics_mutex);
    Json buckets = Json::array();
    int64_t cumulative = 0;
    for (size_t b = 0; b < latency_counts.size(); ++b) {
      cumulative += latency_counts[b];
      buckets.push_back(
          {{"le", b < kLatencyBuckets.size() ? Json(kLatencyBuckets[b]) : Json("+Inf")}, {"count", cumulative}});
    }
    int64_t total = 0;
    for (const auto& [_, n] : by_status) total += n;
    return {{"requests", {{"total", total}, {"by_route", by_route}, {"by_status", by_status}}},
            {"search_latency_ms", {{"count", searches}, {"sum", latency_sum_ms}, {"buckets", buckets}}}};
  }

  Json health() const {
    const Json& m = index.manifest();
    return {{"status", "ok"},
            {"model", m["model"]},
            {"checkpoint", m["checkpoint"]["path"]},
            {"split", m["data"]["split"]},
            {"images", index.split().num_images()},
            {"captions", index.has_captions() ? index.split().num_captions() : 0},
            {"two_stage", index.two_stage()},
            {"limits",
             {{"max_k", options.max_k},
              {"max_body", options.max_body},
              {"max_text", options.max_text},
              {"read_timeout_s", options.read_timeout_s},
              {"max_connections", options.max_connections}}}};
  }

  void routes() {
    auto json_reply = [](httplib::Response& res, int status, const Json& j) {
      res.status = status;
      // Replacing invalid UTF-8: an error may quote the malformed body it refuses.
      res.set_content(j.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
    };
    server.Post("/search", [this, json_reply](const httplib::Request& req, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      try {
        json_reply(res, 200, search(req.body));
      } catch (const RequestError& e) {
        json_reply(res, e.status, {{"error", e.message}});
      }
      record_latency(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    });
    server.Get("/health",
               [this, json_reply](const httplib::Request&, httplib::Response& res) { json_reply(res, 200, health()); });
    server.Get("/metrics", [this, json_reply](const httplib::Request&, httplib::Response& res) {
      json_reply(res, 200, metrics());
    });
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(search_page(), "text/html; charset=utf-8");
    });
    server.Get(R"(/image/(\d+))", [this, json_reply](const httplib::Request& req, httplib::Response& res) {
      const int64_t image = std::stoll(req.matches[1]);
      if (image >= index.split().num_images()) return json_reply(res, 404, {{"error", cat("no image ", image)}});
      if (!options.images_dir.empty()) {
        for (const char* ext : {".jpg", ".png"}) {
          const std::string path = cat(options.images_dir, "/", image, ext);
          if (fs::exists(path))
            return res.set_content(read_file(path), std::string(ext) == ".jpg" ? "image/jpeg" : "image/png");
        }
      }
      res.set_content(drawings.svg(image), "image/svg+xml");
    });
    // Errors httplib raises itself (unknown route, body over the limit) get a JSON body too.
    server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      const std::string message = res.status == 404   ? "no such endpoint"
                                  : res.status == 413 ? "request body too large"
                                                      : cat("HTTP ", res.status);
      res.set_content(Json{{"error", message}}.dump(), "application/json");
    });
    server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string message = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        message = e.what();
      } catch (...) {
      }
      res.status = 500;
      res.set_content(Json{{"error", message}}.dump(), "application/json");
    });
    // Counted before the response is sent (the logger runs after), so a
    // client that has its answer also finds it in /metrics.
    server.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) { record(req, res); });
    server.set_payload_max_length(options.max_body);
    const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::duration<double>(std::max(0.001, options.read_timeout_s)));
    server.set_read_timeout(timeout);
    server.set_keep_alive_timeout(std::max<time_t>(1, static_cast<time_t>(std::ceil(options.read_timeout_s))));
    const int threads = std::max(1, options.threads), cap = std::max(threads, options.max_connections);
    server.new_task_queue = [threads, cap] { return new CappedQueue(threads, cap); };
  }
};

SearchServer::SearchServer(const SearchIndex& index, ServerOptions options)
    : impl_(std::make_unique<Impl>(index, std::move(options))) {
  impl_->routes();
}

SearchServer::~SearchServer() = default;

int SearchServer::bind() {
  const auto& o = impl_->options;
  const int port =
      o.port == 0 ? impl_->server.bind_to_any_port(o.host) : (impl_->server.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) fail("serve: cannot listen on ", o.host, ":", o.port, " (in use, or not an address of this machine)");
  return port;
}

void SearchServer::run() { impl_->server.listen_after_bind(); }

void SearchServer::stop() { impl_->server.stop(); }

Json SearchServer::metrics() const { return impl_->metrics(); }

}  // namespace sm
