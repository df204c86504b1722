// One split of a dataset folder in the layout of docs/DATA_FORMAT.md (the
// field's "precomp" layout plus optional graph files).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenematch/data/npy.h"
#include "scenematch/data/relation_source.h"

namespace sm {

struct VsgObject {
  int64_t region = 0;
  std::string label;
};
struct VsgRelation {
  int64_t subject = 0, object = 0;  // region indices
  std::string predicate;            // empty: an unlabelled relation
  int64_t union_region = -1;        // a region whose box covers the pair's union box; -1 when none
};
struct SceneGraph {
  std::vector<VsgObject> objects;
  std::vector<VsgRelation> relations;
};

struct Probe {
  int64_t image = 0;
  std::string positive;
  std::vector<std::string> negatives;
  std::string kind;
  // Optional finer group inside the kind, reported as "kind (subset)" besides
  // the kind itself (the synthetic world marks which relation swaps are type-valid).
  std::string subset;
};

// S_ims_size.npy: float32 (N, 2) width, height, or GSMN's release file (an
// object array of {'image_w', 'image_h'} dicts), read without unpickling.
struct ImageSizes {
  std::string path;
  torch::Tensor wh;  // (N, 2) float32
  bool release_dicts = false;
};
ImageSizes read_image_sizes(const std::string& path);

struct LoadOptions {
  bool boxes = false;         // require S_ims_bbx.npy and S_ims_size.npy
  bool scene_graphs = false;  // S_vsg.jsonl (S_vsg_rel.npy is read when present), or a derived graph
  RelationSource relations = RelationSource::Auto;  // where the scene graphs' relations come from
  bool probes = false;                              // require S_probes.jsonl
};

struct Split {
  std::string dir, name;
  NpyArray images;                            // (N, R, F)
  std::optional<NpyArray> boxes;              // (N, R, 4) pixels
  std::optional<ImageSizes> sizes;            // (N, 2) width, height
  std::optional<NpyArray> relation_features;  // (N, P, F)
  std::vector<std::string> captions;
  int64_t captions_per_image = 5;                         // 5 or 1, from the counts
  std::vector<SceneGraph> scene_graphs;                   // empty when not loaded
  RelationSource relation_source = RelationSource::None;  // what the relations in scene_graphs are
  std::vector<Probe> probes;                              // empty when not loaded

  int64_t num_images() const { return images.rows(); }
  int64_t num_captions() const { return static_cast<int64_t>(captions.size()); }
  int64_t image_of_caption(int64_t caption) const { return caption / captions_per_image; }
  std::string file(const std::string& suffix) const { return dir + "/" + name + "_" + suffix; }
  // Drops the mapped pages of images [begin, end) (features and relation
  // features) from memory once they have been read; they stay in the file.
  void release_images(int64_t begin, int64_t end) const {
    images.release(begin, end);
    if (relation_features) relation_features->release(begin, end);
  }
};

// Loads and validates a split: counts across files, NaN/Inf features, boxes
// outside the image, relations naming regions out of range, empty captions.
// Every error names the file and the line or index. Scene graphs come from
// options.relations resolved on the files present (resolve_relation_source):
// derived ones read the boxes (opened even without options.boxes) or stream
// the features once.
Split load_split(const std::string& dir, const std::string& split, const LoadOptions& options = {});

std::vector<std::string> read_caption_lines(const std::string& path);  // errors name file:line
std::vector<SceneGraph> read_scene_graphs(const std::string& path);
// Line i is graph i, in the format read_scene_graphs reads; written atomically.
void write_scene_graphs(const std::string& path, const std::vector<SceneGraph>& graphs);
std::vector<Probe> read_probes(const std::string& path);

}  // namespace sm
