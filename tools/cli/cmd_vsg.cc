// scenematch vsg: writes the visual scene graph SGM derives for a split that
// has no S_vsg.jsonl (from its boxes, or from feature similarity without
// them), as an S_vsg.jsonl in the contract's format.
#include <cstdio>
#include <filesystem>
#include <map>

#include "command.h"
#include "scenematch/core/config.h"
#include "scenematch/data/derived_vsg.h"

namespace sm::cli {
namespace {

namespace fs = std::filesystem;

CommandRegistrar reg("vsg", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("vsg", "derive a split's visual scene graph from its boxes (or features); write it");
  static std::string data, split = "train", out, from = "auto";
  static bool json = false;
  cmd->add_option("--data", data, "dataset folder (docs/DATA_FORMAT.md)")->required();
  cmd->add_option("--split", split, "split to derive")->capture_default_str();
  cmd->add_option("--out", out, "output file, e.g. DIR/SPLIT_vsg.jsonl (written atomically)")->required();
  cmd->add_option("--from", from, "boxes, features, or auto (boxes when the split has them)")
      ->check(CLI::IsMember({"auto", "boxes", "features"}))
      ->capture_default_str();
  cmd->add_flag("--json", json, "print the summary as JSON to stdout");
  cmd->callback([] {
    LoadOptions options;
    options.scene_graphs = true;
    // Auto here never means the split's own S_vsg.jsonl: this command is for deriving one.
    auto has = [](const char* suffix) { return fs::is_regular_file(data + "/" + split + "_" + suffix); };
    options.relations = from != "auto"                              ? parse_relation_source(from, "--from")
                        : has("ims_bbx.npy") && has("ims_size.npy") ? RelationSource::Boxes
                                                                    : RelationSource::Features;
    const Split s = load_split(data, split, options);
    write_scene_graphs(out, s.scene_graphs);

    int64_t relations = 0;
    std::map<std::string, int64_t> predicates;
    for (const auto& g : s.scene_graphs)
      for (const auto& r : g.relations) {
        ++relations;
        ++predicates[r.predicate.empty() ? "(none)" : r.predicate];
      }
    Json summary = {{"out", out},
                    {"images", s.num_images()},
                    {"relations", relations},
                    {"source", describe_relation_source(s.relation_source)},
                    {"predicates", predicates}};
    if (json) {
      std::printf("%s\n", summary.dump(2).c_str());
      return;
    }
    std::printf("wrote %s: %lld images, %lld relations %s\n", out.c_str(), static_cast<long long>(s.num_images()),
                static_cast<long long>(relations), describe_relation_source(s.relation_source));
    for (const auto& [name, count] : predicates)
      std::printf("  %-12s %lld\n", name.c_str(), static_cast<long long>(count));
  });
});

}  // namespace
}  // namespace sm::cli
