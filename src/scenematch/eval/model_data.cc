#include "scenematch/eval/model_data.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "scenematch/data/given_dependencies.h"
#include "scenematch/text/parse_cache.h"

namespace sm {

std::string unknown_word_notice(const Vocab& vocab, const std::vector<CaptionGraph>& graphs, const std::string& file,
                                size_t most) {
  std::map<std::string, int64_t> unknown;
  int64_t tokens = 0, missing = 0;
  for (const CaptionGraph& g : graphs)
    for (const std::string& t : g.tokens) {
      ++tokens;
      if (vocab.contains(t)) continue;
      ++missing;
      ++unknown[t];
    }
  if (missing == 0) return "";
  std::vector<std::pair<std::string, int64_t>> commonest(unknown.begin(), unknown.end());
  std::stable_sort(commonest.begin(), commonest.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  commonest.resize(std::min(commonest.size(), most));
  std::string words;
  for (const auto& [word, n] : commonest) words += cat(words.empty() ? "" : ", ", "'", word, "' (", n, ")");
  char share[32];
  std::snprintf(share, sizeof share, "%.2f%%", 100.0 * missing / tokens);
  return cat(file, ": ", missing, " of ", tokens, " caption tokens (", share, ", ", unknown.size(),
             " distinct words) are not in the model's vocabulary and are read as <unk>; most often: ", words);
}

std::unique_ptr<EvalData> load_eval_data(const std::string& data_dir, const std::string& split, const Vocab& vocab,
                                         const DataNeeds& needs, const EvalDataOptions& options) {
  LoadOptions load;
  load.boxes = needs.boxes;
  load.scene_graphs = needs.scene_graphs;
  load.relations = needs.relations;
  load.probes = options.probes;
  auto data = std::make_unique<EvalData>();
  data->split = load_split(data_dir, split, load);
  data->vocab = vocab;
  const bool given = needs.parses && needs.given_dependencies;
  data->graphs =
      caption_graphs(data->split.captions, data->split.file("caps.txt"), needs.parses && !given, options.threads);
  if (given) {
    const GivenEdgeCounts counts = apply_given_dependencies(data->split.file("caps.json"), data->graphs);
    if (counts.dropped)
      std::fprintf(stderr, "%s: %lld dependency pairs touch ROOT or lie past their caption's tokens; dropped\n",
                   data->split.file("caps.json").c_str(), static_cast<long long>(counts.dropped));
  }
  const std::string notice = unknown_word_notice(data->vocab, data->graphs, data->split.file("caps.txt"));
  if (!notice.empty()) std::fprintf(stderr, "%s\n", notice.c_str());
  data->batcher = std::make_unique<Batcher>(data->split, data->vocab, data->graphs, needs);
  return data;
}

ModelData attach_data(ModelBundle bundle, const std::string& data_dir, const std::string& split,
                      const EvalDataOptions& options) {
  if (!bundle.model) fail("attach_data: model bundle '", bundle.name, "' holds no model");
  ModelData md;
  md.source = bundle.name;
  md.data = load_eval_data(data_dir, split, bundle.vocab, bundle.model->needs(), options);
  md.bundle = std::move(bundle);
  return md;
}

ModelData load_model_data(const std::string& checkpoint, const std::string& data_dir, const std::string& split,
                          const torch::Device& device, const EvalDataOptions& options) {
  ModelData md = attach_data(load_checkpoint(checkpoint, device).bundle, data_dir, split, options);
  md.source = checkpoint;
  return md;
}

}  // namespace sm
