// The retrieval service: a JSON API over a SearchIndex (POST /search, GET
// /health, GET /metrics), the search page at / and pictures of the gallery's
// images, on a thread pool. See docs/search.md.
#pragma once
#include <memory>
#include <string>

#include "scenematch/core/config.h"
#include "scenematch/search/index.h"

namespace sm {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;              // 0: any free port
  int threads = 4;              // request-handling threads
  int64_t max_k = 100;          // largest "k" a request may ask for
  size_t max_body = 16 * 1024;  // bytes of a request body
  size_t max_text = 1000;       // characters of a text query
  int64_t candidates = 100;     // first-stage candidates (graph models)
  std::string images_dir;       // real data: IMAGES_DIR/<index>.jpg or .png shown instead of drawings
  // A client that sends nothing for this long (mid-request, or idle between
  // keep-alive requests) is dropped, so stalled clients free their worker.
  double read_timeout_s = 5;
  // Connections held at once (served or waiting for a worker); past it the
  // server stops accepting until one closes, and new clients wait in the
  // kernel's backlog instead of piling up in memory.
  int max_connections = 64;
};

// A malformed request: the HTTP status it gets and a one-line message for {"error": ...}.
struct RequestError {
  int status;
  std::string message;
};

// A POST /search body, checked against the limits: either a text query or an image id.
struct SearchRequest {
  bool by_text = false;
  std::string text;
  int64_t image = -1;
  SearchOptions options;
};
// Throws RequestError (400 for bad JSON, 413 for text over the limit, 422 for
// wrong fields); the image id is checked against the gallery by the caller.
SearchRequest parse_search_request(const std::string& body, const ServerOptions& limits);

class SearchServer {
 public:
  SearchServer(const SearchIndex& index, ServerOptions options);
  ~SearchServer();
  // Binds host:port and returns the port (the chosen one when port is 0).
  int bind();
  // Serves until stop(); returns once every worker is done.
  void run();
  // Safe from any thread (not from a signal handler).
  void stop();
  Json metrics() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The search page served at / (HTML with its script and style inline).
const std::string& search_page();

}  // namespace sm
