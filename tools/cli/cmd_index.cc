// scenematch index: encodes a split's gallery once into a retrieval index.
#include <cstdio>

#include "command.h"
#include "scenematch/search/index.h"

namespace sm::cli {
namespace {

CommandRegistrar reg("index", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("index", "encode a split into a FAISS retrieval index (docs/search.md)");
  static CommonOptions common;
  static IndexOptions options;
  static bool no_captions = false;
  cmd->add_option("--checkpoint", options.checkpoint, "checkpoint file")->required();
  cmd->add_option("--data", options.data, "dataset folder (docs/DATA_FORMAT.md)")->required();
  cmd->add_option("--split", options.split, "split to index")->capture_default_str();
  cmd->add_option("--out", options.out, "index folder to write (replaced atomically)")->required();
  cmd->add_option("--faiss,--factory", options.factory,
                  "FAISS index_factory string over inner products: Flat (exact), IVF<n>,Flat, HNSW<m>, "
                  "IVF<n>,PQ<m>, IVF<n>,SQfp16, ... (trained on the gallery where needed)")
      ->capture_default_str();
  cmd->add_option("--nprobe", options.ann.nprobe, "IVF: lists visited per query, recorded as the index's default")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--ef-search", options.ann.ef_search,
                  "HNSW: candidate list size while searching, recorded as the index's default")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--first-stage", options.first_stage,
                  "an embedding model's checkpoint (VSE++, VSE-infinity, HREM, ALGR) whose vectors give a graph "
                  "model its candidates");
  cmd->add_flag("--no-captions", no_captions, "index images only (no image-to-text search)");
  add_common_options(cmd, common);
  cmd->callback([] {
    apply_common_options(common);
    options.captions = !no_captions;
    options.device = common.device;
    options.threads = common.threads;
    const Json manifest = build_index(options);
    if (common.json) {
      std::printf("%s\n", manifest.dump(2).c_str());
    } else {
      std::printf("%s: %s index of %lld images", options.out.c_str(), manifest["factory"].get<std::string>().c_str(),
                  static_cast<long long>(manifest["images"]["count"].get<int64_t>()));
      if (!manifest["captions"].is_null())
        std::printf(" and %lld captions", static_cast<long long>(manifest["captions"]["count"].get<int64_t>()));
      const std::string stages =
          manifest["embedding_scores"].get<bool>() ? "embedding model: one stage"
          : manifest["first_stage"].is_null()
              ? "two-stage search"
              : "two-stage search, first stage " + manifest["first_stage"]["model"].get<std::string>();
      std::printf(" (%s, %lld-d, %s; search parameters %s)\n", manifest["model"].get<std::string>().c_str(),
                  static_cast<long long>(manifest["images"]["dim"].get<int64_t>()), stages.c_str(),
                  manifest["search_params"].dump().c_str());
    }
  });
});

}  // namespace
}  // namespace sm::cli
