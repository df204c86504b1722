// scenematch search: one query against an index, text-to-image or
// image-to-text; --evaluate measures two-stage search against exhaustive.
#include <cstdio>

#include "command.h"
#include "scenematch/search/index.h"

namespace sm::cli {
namespace {

CommandRegistrar reg("search", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("search", "search an index by text (images) or by image (captions)");
  static CommonOptions common;
  static std::string index_dir, checkpoint, text;
  static int64_t image = -1, evaluate_queries = 100;
  static SearchOptions options;
  static bool evaluate = false;
  cmd->add_option("--index", index_dir, "index folder (scenematch index)")->required();
  cmd->add_option("--checkpoint", checkpoint, "checkpoint (default: the one the index names; must match its hash)");
  auto* t = cmd->add_option("--text", text, "text query: rank the images");
  auto* i = cmd->add_option("--image", image, "image id: rank the captions");
  auto* e = cmd->add_flag("--evaluate", evaluate,
                          "R@1/5/10 and time per query of two-stage search against exhaustive scoring on the "
                          "index's own split");
  t->excludes(i)->excludes(e);
  i->excludes(e);
  cmd->add_option("-k", options.k, "results")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--candidates", options.candidates, "first-stage candidates re-scored by graph models")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--exhaustive", options.exhaustive, "score every item with the full model (no first stage)");
  cmd->add_option("--timed-queries", evaluate_queries, "queries timed per direction by --evaluate")
      ->capture_default_str();
  add_common_options(cmd, common);
  cmd->callback([] {
    apply_common_options(common);
    if (text.empty() && image < 0 && !evaluate) fail("search: give --text, --image or --evaluate");
    auto index = SearchIndex::open(index_dir, checkpoint, common.device);
    const Split& split = index->split();
    if (evaluate) {
      const Json r = index->evaluate_two_stage(options.candidates, evaluate_queries);
      if (common.json) {
        std::printf("%s\n", r.dump(2).c_str());
        return;
      }
      std::printf("%s on %lld images / %lld captions, %s, K=%lld\n", r["model"].get<std::string>().c_str(),
                  static_cast<long long>(r["images"].get<int64_t>()),
                  static_cast<long long>(r["captions"].get<int64_t>()), r["factory"].get<std::string>().c_str(),
                  static_cast<long long>(options.candidates));
      std::printf("%-11s %6s %6s %6s %6s %6s %6s %12s\n", "", "t2i R1", "R5", "R10", "i2t R1", "R5", "R10", "ms/query");
      for (const char* mode : {"exhaustive", "two_stage"}) {
        const Json& m = r[mode];
        std::printf("%-11s %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %5.2f/%5.2f\n", mode, m["t2i_r1"].get<double>(),
                    m["t2i_r5"].get<double>(), m["t2i_r10"].get<double>(), m["i2t_r1"].get<double>(),
                    m["i2t_r5"].get<double>(), m["i2t_r10"].get<double>(),
                    r["ms_per_query"][std::string("t2i_") + mode].get<double>(),
                    r["ms_per_query"][std::string("i2t_") + mode].get<double>());
      }
      std::printf("speed-up: t2i %.1fx, i2t %.1fx\n", r["speedup"]["t2i"].get<double>(),
                  r["speedup"]["i2t"].get<double>());
      return;
    }
    const bool by_text = !text.empty();
    const SearchResult r = by_text ? index->search_text(text, options) : index->search_image(image, options);
    Json hits = Json::array();
    for (size_t rank = 0; rank < r.hits.size(); ++rank) {
      const SearchHit& h = r.hits[rank];
      Json j = {{"rank", rank + 1}, {"score", h.score}};
      if (by_text) {
        j["image"] = h.id;
      } else {
        j["caption"] = h.id;
        j["image"] = split.image_of_caption(h.id);
        j["text"] = split.captions[h.id];
      }
      hits.push_back(j);
    }
    if (common.json) {
      Json out = {{"mode", r.mode}, {"candidates", r.candidates}, {"milliseconds", r.milliseconds}, {"results", hits}};
      if (by_text)
        out["query"] = {{"text", text}, {"graph", scene_graph_json(r.query)}};
      else
        out["query"] = {{"image", image}};
      std::printf("%s\n", out.dump(2).c_str());
      return;
    }
    std::printf("%s search (%s, %.1f ms)\n", r.mode.c_str(),
                by_text ? ("\"" + text + "\"").c_str() : cat("image ", image).c_str(), r.milliseconds);
    for (const auto& j : hits) {
      if (by_text)
        std::printf("%3d  %8.4f  image %lld\n", j["rank"].get<int>(), j["score"].get<double>(),
                    static_cast<long long>(j["image"].get<int64_t>()));
      else
        std::printf("%3d  %8.4f  caption %lld (image %lld): %s\n", j["rank"].get<int>(), j["score"].get<double>(),
                    static_cast<long long>(j["caption"].get<int64_t>()),
                    static_cast<long long>(j["image"].get<int64_t>()), j["text"].get<std::string>().c_str());
    }
  });
});

}  // namespace
}  // namespace sm::cli
