// scenematch serve: the retrieval service and its search page over one index.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include "command.h"
#include "scenematch/search/server.h"

namespace sm::cli {
namespace {

CommandRegistrar reg("serve", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("serve",
                                 "serve an index: JSON API (POST /search, GET /health, GET /metrics) and a "
                                 "search page at / (docs/search.md)");
  static CommonOptions common;
  static std::string index_dir, checkpoint;
  static ServerOptions options;
  cmd->add_option("--index", index_dir, "index folder (scenematch index)")->required();
  cmd->add_option("--checkpoint", checkpoint, "checkpoint (default: the one the index names; must match its hash)");
  cmd->add_option("--host", options.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", options.port, "port (0: any free port, printed on start)")->capture_default_str();
  cmd->add_option("--workers", options.threads, "request-handling threads")->capture_default_str();
  cmd->add_option("--max-k", options.max_k, "largest k a request may ask for")->capture_default_str();
  cmd->add_option("--max-body", options.max_body, "largest request body in bytes")->capture_default_str();
  cmd->add_option("--max-text", options.max_text, "longest text query in bytes")->capture_default_str();
  cmd->add_option("--read-timeout", options.read_timeout_s,
                  "seconds a client may send nothing (mid-request or idle between requests) before it is dropped")
      ->capture_default_str();
  cmd->add_option("--max-connections", options.max_connections,
                  "connections held at once; past it new clients wait to be accepted")
      ->capture_default_str();
  cmd->add_option("--candidates", options.candidates, "first-stage candidates re-scored by graph models")
      ->capture_default_str();
  cmd->add_option("--images", options.images_dir,
                  "folder of the split's pictures named <index>.jpg or .png (default: drawings from the boxes and "
                  "scene graphs)");
  add_common_options(cmd, common, false);
  cmd->callback([] {
    apply_common_options(common);
    // SIGTERM and SIGINT are taken by a thread of their own (blocked before any
    // worker starts, so every thread inherits the mask) that stops the server.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto index = SearchIndex::open(index_dir, checkpoint, common.device);
    SearchServer server(*index, options);
    const int port = server.bind();
    std::thread waiter([&] {
      int sig = 0;
      sigwait(&signals, &sig);
      std::fprintf(stderr, "serve: %s, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      server.stop();
    });
    std::fprintf(stderr, "serve: %s index of %lld images on http://%s:%d/\n",
                 index->manifest()["model"].get<std::string>().c_str(),
                 static_cast<long long>(index->split().num_images()), options.host.c_str(), port);
    server.run();
    waiter.join();
    std::fprintf(stderr, "serve: stopped\n");
  });
});

}  // namespace
}  // namespace sm::cli
