// scenematch info: what a checkpoint or a dataset folder holds, read from
// headers and file sizes only (a 33 GB feature file is never scanned).
#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "command.h"
#include "scenematch/data/dataset.h"
#include "scenematch/models/checkpoint.h"

namespace sm::cli {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Json checkpoint_info(const std::string& path) {
  Json h = read_checkpoint_header(path);
  const Json& state = h["trainer_state"];
  Json info = {{"kind", "checkpoint"},
               {"path", path},
               {"model", h["name"]},
               {"preset", h["config"].value("preset", "custom")},
               {"config", h["config"]},
               {"vocab_size", h["vocab"]["words"].size()},
               {"parameters", h["sizes"]["parameters"]},
               {"resumable", h["sizes"].value("optimizer", 0) > 0}};
  // Training fixes "auto" to the source it found (train/run.cc), so this is what the run used.
  if (h["config"].contains("relations"))
    info["relations"] = describe_relation_source(
        parse_relation_source(h["config"]["relations"].get<std::string>(), path + ": config key 'relations'"));
  if (state.contains("epoch")) info["epoch"] = state["epoch"];
  if (state.contains("best_rsum")) info["best_rsum"] = state["best_rsum"];
  if (state.contains("best_epoch")) info["best_epoch"] = state["best_epoch"];
  if (state.contains("log") && !state["log"].empty()) info["last_epoch"] = state["log"].back();
  if (state.contains("imported")) info["imported"] = state["imported"];
  return info;
}

bool ends_without_newline(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() == 0) return false;
  in.seekg(-1, std::ios::end);
  return in.get() != '\n';
}

// What in the authors' folders differs from docs/DATA_FORMAT.md, and how it is read.
Json release_notes(const std::string& prefix, const std::string& split, int64_t images, int64_t captions) {
  Json notes = Json::array();
  if (ends_without_newline(prefix + "caps.txt"))
    notes.push_back(prefix + "caps.txt: last line has no newline (read as a caption)");
  if (exists(prefix + "ims_size.npy") && read_image_sizes(prefix + "ims_size.npy").release_dicts)
    notes.push_back(prefix +
                    "ims_size.npy: GSMN's object array of {'image_w', 'image_h'} dicts (read without unpickling)");
  if (exists(prefix + "precaps_stan.txt"))
    notes.push_back(prefix +
                    "precaps_stan.txt: GSMN's precomputed word ids (not read: tokenising caps.txt gives the same ids)");
  if (exists(prefix + "caps.json"))
    notes.push_back(prefix +
                    "caps.json: GSMN's dependency pairs (read by gsmn --set graph=sparse --set text_edges=given; "
                    "the released structure never uses them)");
  if (split == "dev" && captions > 5000)
    notes.push_back(cat("dev has ", images, " images and ", captions,
                        " captions; the SCAN/GSMN/VSE∞ loaders evaluate only "
                        "the first 5,000 captions (1,000 images) of dev, scenematch uses them all"));
  return notes;
}

Json dataset_info(const std::string& dir) {
  Json splits = Json::object();
  for (const char* name : {"train", "dev", "test", "testall"}) {
    const std::string prefix = dir + "/" + name + "_";
    if (!exists(prefix + "ims.npy") && !exists(prefix + "caps.txt")) continue;
    NpyArray images = NpyArray::open(prefix + "ims.npy");
    const auto& shape = images.shape();
    if (shape.size() != 3) fail(prefix, "ims.npy: expected shape (N, R, F), got ", shape.size(), " dimensions");
    const int64_t captions = static_cast<int64_t>(read_caption_lines(prefix + "caps.txt").size());
    Json s = {
        {"images", shape[0]},      {"regions", shape[1]},
        {"feature_dim", shape[2]}, {"dtype", npy_dtype_name(images.dtype())},
        {"captions", captions},    {"captions_per_image", shape[0] > 0 ? double(captions) / double(shape[0]) : 0.0}};
    Json optional = Json::array();
    for (const char* suffix : {"ims_bbx.npy", "ims_size.npy", "vsg.jsonl", "vsg_rel.npy", "probes.jsonl"})
      if (exists(prefix + suffix)) optional.push_back(std::string(name) + "_" + suffix);
    s["optional_files"] = optional;
    // What a model reading visual relations (SGM) takes from this split by default.
    s["relations"] = describe_relation_source(resolve_relation_source(dir, name, RelationSource::Auto));
    s["notes"] = release_notes(prefix, name, shape[0], captions);
    splits[name] = s;
  }
  if (splits.empty()) fail(dir, ": no split found (expected train_ims.npy + train_caps.txt, dev_..., test_...)");
  return {{"kind", "dataset"}, {"path", dir}, {"splits", splits}, {"vocab_json", exists(dir + "/vocab.json")}};
}

void print_checkpoint(const Json& j) {
  std::printf("%s: %s checkpoint (preset %s)\n", j["path"].get<std::string>().c_str(),
              j["model"].get<std::string>().c_str(), j["preset"].get<std::string>().c_str());
  std::printf("  parameters %s, vocabulary %s words, %s\n", j["parameters"].dump().c_str(),
              j["vocab_size"].dump().c_str(),
              j["resumable"].get<bool>() ? "resumable (has optimizer state)" : "weights only");
  if (j.contains("relations")) std::printf("  relations: %s\n", j["relations"].get<std::string>().c_str());
  if (j.contains("imported"))
    std::printf("  imported from %s's release %s (its epoch %s, best rSum %s)\n",
                j["imported"]["from"].get<std::string>().c_str(),
                j["imported"]["checkpoint"].get<std::string>().c_str(), j["imported"]["epoch"].dump().c_str(),
                j["imported"]["best_rsum"].dump().c_str());
  if (j.contains("epoch"))
    std::printf("  trained %s epochs; best validation rSum %.2f at epoch %s\n", j["epoch"].dump().c_str(),
                j.value("best_rsum", 0.0), j.value("best_epoch", Json()).dump().c_str());
  std::printf("  config:");
  for (const auto& [k, v] : j["config"].items()) std::printf(" %s=%s", k.c_str(), v.dump().c_str());
  std::printf("\n");
}

void print_dataset(const Json& j) {
  std::printf("%s: dataset%s\n", j["path"].get<std::string>().c_str(),
              j["vocab_json"].get<bool>() ? " (with vocab.json)" : "");
  for (const auto& [name, s] : j["splits"].items()) {
    std::printf("  %-8s %s images x %s regions x %s (%s), %s captions (%s per image)", name.c_str(),
                s["images"].dump().c_str(), s["regions"].dump().c_str(), s["feature_dim"].dump().c_str(),
                s["dtype"].get<std::string>().c_str(), s["captions"].dump().c_str(),
                s["captions_per_image"].dump().c_str());
    for (const auto& f : s["optional_files"]) std::printf(" +%s", f.get<std::string>().c_str());
    std::printf("; relations %s\n", s["relations"].get<std::string>().c_str());
    for (const auto& n : s["notes"]) std::printf("    note: %s\n", n.get<std::string>().c_str());
  }
}

CommandRegistrar reg("info", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "what a checkpoint or a dataset folder holds");
  static std::string target;
  static bool json = false;
  cmd->add_option("path", target, "a .ckpt file or a dataset folder")->required();
  cmd->add_flag("--json", json, "print machine-readable JSON to stdout");
  cmd->callback([] {
    Json info = is_dir(target) ? dataset_info(target) : checkpoint_info(target);
    if (json) {
      std::printf("%s\n", info.dump(2).c_str());
    } else if (info["kind"] == "checkpoint") {
      print_checkpoint(info);
    } else {
      print_dataset(info);
    }
  });
});

}  // namespace
}  // namespace sm::cli
