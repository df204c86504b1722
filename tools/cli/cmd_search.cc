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
  static int64_t image = -1, evaluate_queries = 100, sample_queries = 0;
  static std::vector<int64_t> evaluate_candidates = {10, 20, 50, 100, 200};
  static SearchOptions options;
  static bool evaluate = false;
  cmd->add_option("--index", index_dir, "index folder (scenematch index)")->required();
  cmd->add_option("--checkpoint", checkpoint, "checkpoint (default: the one the index names; must match its hash)");
  auto* t = cmd->add_option("--text", text, "text query: rank the images");
  auto* i = cmd->add_option("--image", image, "image id: rank the captions");
  auto* e = cmd->add_flag("--evaluate", evaluate,
                          "first-stage candidate recall, two-stage R@1/5/10, full-model scorings and time per "
                          "query against exhaustive scoring on the index's own split, for each K of "
                          "--evaluate-candidates");
  t->excludes(i)->excludes(e);
  i->excludes(e);
  cmd->add_option("-k", options.k, "results")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--candidates", options.candidates, "first-stage candidates re-scored by graph models")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--evaluate-candidates", evaluate_candidates, "numbers of candidates K that --evaluate compares")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--nprobe", options.ann.nprobe, "IVF first stage: lists visited per query (default: the index's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--ef-search", options.ann.ef_search,
                  "HNSW first stage: candidate list size while searching (default: the index's)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--exhaustive", options.exhaustive, "score every item with the full model (no first stage)");
  cmd->add_option("--timed-queries", evaluate_queries, "queries timed per direction and K by --evaluate")
      ->capture_default_str();
  cmd->add_option("--sample-queries", sample_queries,
                  "--evaluate measures recall on this many evenly spaced queries each way (0 = all); the exhaustive "
                  "scores then cover only their rows of the matrix")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  add_common_options(cmd, common);
  cmd->callback([] {
    apply_common_options(common);
    if (text.empty() && image < 0 && !evaluate) fail("search: give --text, --image or --evaluate");
    auto index = SearchIndex::open(index_dir, checkpoint, common.device);
    const Split& split = index->split();
    if (evaluate) {
      const Json r = index->evaluate_two_stage(evaluate_candidates, options, evaluate_queries, sample_queries);
      if (common.json) {
        std::printf("%s\n", r.dump(2).c_str());
        return;
      }
      std::printf("%s re-ranking %s candidates (%s %s) on %lld images / %lld captions\n",
                  r["model"].get<std::string>().c_str(), r["first_stage"].get<std::string>().c_str(),
                  r["factory"].get<std::string>().c_str(), r["search_params"].dump().c_str(),
                  static_cast<long long>(r["images"].get<int64_t>()),
                  static_cast<long long>(r["captions"].get<int64_t>()));
      if (sample_queries > 0)
        std::printf("recall on %lld caption and %lld image queries, evenly spaced\n",
                    static_cast<long long>(r["t2i_queries"].get<int64_t>()),
                    static_cast<long long>(r["i2t_queries"].get<int64_t>()));
      std::printf("%-10s | %-48s | %-48s\n", "", "text-to-image", "image-to-text");
      const char* header = "%6s %6s %6s %6s %7s %9s";
      std::printf("%-10s | ", "K");
      std::printf(header, "cand@K", "R@1", "R@5", "R@10", "pairs", "ms/query");
      std::printf(" | ");
      std::printf(header, "cand@K", "R@1", "R@5", "R@10", "pairs", "ms/query");
      std::printf("\n");
      auto cells = [](const Json& d) {
        if (d.contains("candidate_recall"))
          std::printf("%6.1f", d["candidate_recall"].get<double>());
        else
          std::printf("%6s", "-");
        std::printf(" %6.1f %6.1f %6.1f %7.0f %9.2f", d["r1"].get<double>(), d["r5"].get<double>(),
                    d["r10"].get<double>(), d["pair_scorings"].get<double>(), d["ms_per_query"].get<double>());
      };
      auto row = [&](const std::string& label, const Json& t2i, const Json& i2t) {
        std::printf("%-10s | ", label.c_str());
        cells(t2i);
        std::printf(" | ");
        cells(i2t);
        std::printf("\n");
      };
      row("exhaustive", r["exhaustive"]["t2i"], r["exhaustive"]["i2t"]);
      for (const Json& k : r["two_stage"]) row(cat(k["candidates"].get<int64_t>()), k["t2i"], k["i2t"]);
      std::printf(
          "cand@K: %% of queries with a ground truth among the K first-stage candidates (a miss there is a "
          "miss at every R@k); pairs: full-model scorings per query\n");
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
