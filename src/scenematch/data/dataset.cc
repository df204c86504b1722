#include "scenematch/data/dataset.h"

#include <sys/stat.h>

#include <cmath>
#include <fstream>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/config.h"
#include "scenematch/core/error.h"
#include "scenematch/data/derived_vsg.h"

namespace sm {

namespace {

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when invalid
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t utf8_sequence(const std::string& s, size_t i) {
  auto byte = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  unsigned c = byte(i);
  if (c < 0x80) return 1;
  auto cont = [&](size_t k) { return (byte(k) & 0xc0) == 0x80; };
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    unsigned c1 = byte(i + 1);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f)) return 0;
    return cont(i + 1) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    unsigned c1 = byte(i + 1);
    if ((c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f)) return 0;
    return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// Reads a text file as lines: '\n' or "\r\n" endings, a final line without an
// ending allowed, a UTF-8 byte-order mark at the start skipped.
std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (no such file?)");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (lines.empty() && line.compare(0, 3, "\xef\xbb\xbf") == 0) line.erase(0, 3);
    lines.push_back(std::move(line));
  }
  if (in.bad()) fail(path, ": read error");
  return lines;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\v\f") == std::string::npos; }

Json parse_json_line(const std::string& path, size_t line, const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) fail(path, ":", line, ": malformed JSON");
  if (!j.is_object()) fail(path, ":", line, ": expected a JSON object");
  return j;
}

// Typed field access with errors naming file:line and the field.
template <class T>
T field(const std::string& path, size_t line, const Json& j, const char* key, const char* what) {
  auto it = j.find(key);
  if (it == j.end()) fail(path, ":", line, ": missing '", key, "' (", what, ")");
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) fail(path, ":", line, ": '", key, "' must be a string (", what, ")");
  } else {
    if (!it->is_number_integer()) fail(path, ":", line, ": '", key, "' must be an integer (", what, ")");
  }
  return it->template get<T>();
}

const Json& array_field(const std::string& path, size_t line, const Json& j, const char* key) {
  static const Json empty = Json::array();
  auto it = j.find(key);
  if (it == j.end()) return empty;
  if (!it->is_array()) fail(path, ":", line, ": '", key, "' must be an array");
  return *it;
}

NpyArray open_shaped(const std::string& path, size_t ndim, const char* layout) {
  NpyArray a = NpyArray::open(path);
  if (a.shape().size() != ndim) fail(path, ": expected shape ", layout, ", got ", a.shape().size(), " dimensions");
  if (a.dtype() != NpyDType::Float32 && a.dtype() != NpyDType::Float16)
    fail(path, ": expected float32 or float16 values ", layout);
  return a;
}

void check_count(const std::string& file_a, int64_t count_a, const std::string& file_b, int64_t count_b,
                 const char* what) {
  if (count_a != count_b)
    fail("count mismatch: ", file_a, " has ", count_a, " ", what, ", ", file_b, " has ", count_b, " ", what);
}

// Boxes are small ((N, R, 4) floats): validated in full at load time.
void check_boxes(const Split& s) {
  const std::string bbx = s.boxes->path(), size = s.sizes->path;
  const auto& sizes = s.sizes->wh;
  auto boxes = s.boxes->rows(0, s.boxes->rows());
  auto sz = sizes.accessor<float, 2>();
  auto bx = boxes.accessor<float, 3>();
  constexpr float kTolerance = 1.0f;  // pixels: detectors round box corners
  for (int64_t i = 0; i < sizes.size(0); ++i) {
    float w = sz[i][0], h = sz[i][1];
    if (!std::isfinite(w) || !std::isfinite(h) || w <= 0 || h <= 0)
      fail(size, ": image ", i, " has an invalid size ", w, " x ", h);
    for (int64_t r = 0; r < boxes.size(1); ++r) {
      float x1 = bx[i][r][0], y1 = bx[i][r][1], x2 = bx[i][r][2], y2 = bx[i][r][3];
      if (!std::isfinite(x1) || !std::isfinite(y1) || !std::isfinite(x2) || !std::isfinite(y2))
        fail(bbx, ": image ", i, " region ", r, " has a NaN or Inf coordinate");
      if (x2 < x1 || y2 < y1)
        fail(bbx, ": image ", i, " region ", r, " has x2 < x1 or y2 < y1 (", x1, ", ", y1, ", ", x2, ", ", y2, ")");
      if (x1 < -kTolerance || y1 < -kTolerance || x2 > w + kTolerance || y2 > h + kTolerance)
        fail(bbx, ": image ", i, " region ", r, " box (", x1, ", ", y1, ", ", x2, ", ", y2,
             ") lies outside the image (", w, " x ", h, " in ", size, ")");
    }
  }
}

void check_scene_graphs(const Split& s) {
  const std::string vsg = s.file("vsg.jsonl");
  const int64_t regions = s.images.shape()[1];
  for (size_t i = 0; i < s.scene_graphs.size(); ++i) {
    auto in_range = [&](int64_t r, const char* what) {
      if (r < 0 || r >= regions)
        fail(vsg, ":", i + 1, ": ", what, " names region ", r, ", but images have ", regions, " regions (",
             s.images.path(), ")");
    };
    for (const auto& o : s.scene_graphs[i].objects) in_range(o.region, "an object");
    for (const auto& r : s.scene_graphs[i].relations) {
      in_range(r.subject, "a relation subject");
      in_range(r.object, "a relation object");
      if (r.union_region >= 0) in_range(r.union_region, "a relation union");
    }
  }
  if (!s.relation_features) return;
  const auto& shape = s.relation_features->shape();
  const std::string rel = s.relation_features->path();
  check_count(s.images.path(), s.num_images(), rel, shape[0], "images");
  if (shape[2] != s.images.shape()[2])
    fail(rel, ": relation features have ", shape[2], " dimensions, region features in ", s.images.path(), " have ",
         s.images.shape()[2]);
  for (size_t i = 0; i < s.scene_graphs.size(); ++i)
    if (static_cast<int64_t>(s.scene_graphs[i].relations.size()) > shape[1])
      fail(vsg, ":", i + 1, ": ", s.scene_graphs[i].relations.size(), " relations, but ", rel, " holds only ", shape[1],
           " per image");
}

// Opens and checks S_ims_bbx.npy and S_ims_size.npy.
void load_boxes(Split& s) {
  for (const char* f : {"ims_bbx.npy", "ims_size.npy"})
    if (!file_exists(s.file(f)))
      fail(s.file(f), ": missing; it is needed by models that use region geometry (GSMN, SGM)");
  s.boxes = open_shaped(s.file("ims_bbx.npy"), 3, "(N, R, 4)");
  s.sizes = read_image_sizes(s.file("ims_size.npy"));
  check_count(s.images.path(), s.num_images(), s.boxes->path(), s.boxes->rows(), "images");
  check_count(s.images.path(), s.num_images(), s.sizes->path, s.sizes->wh.size(0), "images");
  if (s.boxes->shape()[1] != s.images.shape()[1])
    fail(s.boxes->path(), ": ", s.boxes->shape()[1], " boxes per image, ", s.images.path(), " has ",
         s.images.shape()[1], " regions");
  if (s.boxes->shape()[2] != 4) fail(s.boxes->path(), ": expected 4 coordinates per box (x1, y1, x2, y2)");
  check_boxes(s);
}

}  // namespace

std::vector<std::string> read_caption_lines(const std::string& path) {
  std::vector<std::string> lines = read_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& s = lines[i];
    for (size_t k = 0; k < s.size();) {
      size_t n = utf8_sequence(s, k);
      if (n == 0) fail(path, ":", i + 1, ": invalid UTF-8 at byte ", k + 1, " of the line");
      k += n;
    }
    if (blank(s)) fail(path, ":", i + 1, ": empty caption");
  }
  return lines;
}

std::vector<SceneGraph> read_scene_graphs(const std::string& path) {
  std::vector<std::string> lines = read_lines(path);
  std::vector<SceneGraph> graphs;
  graphs.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t line = i + 1;
    // Line i belongs to image i, so a blank line cannot be skipped.
    if (blank(lines[i])) fail(path, ":", line, ": empty line (each line is the scene graph of one image; use {})");
    Json j = parse_json_line(path, line, lines[i]);
    SceneGraph g;
    for (const Json& o : array_field(path, line, j, "objects")) {
      if (!o.is_object()) fail(path, ":", line, ": each of 'objects' must be an object");
      VsgObject obj{field<int64_t>(path, line, o, "region", "object"),
                    field<std::string>(path, line, o, "label", "object")};
      if (blank(obj.label)) fail(path, ":", line, ": an object has an empty label");
      if (obj.region < 0) fail(path, ":", line, ": an object names region ", obj.region);
      g.objects.push_back(std::move(obj));
    }
    for (const Json& r : array_field(path, line, j, "relations")) {
      if (!r.is_object()) fail(path, ":", line, ": each of 'relations' must be an object");
      VsgRelation rel;
      rel.subject = field<int64_t>(path, line, r, "subject", "relation");
      rel.object = field<int64_t>(path, line, r, "object", "relation");
      // An unlabelled relation leaves the predicate out; a present one must say something.
      if (r.contains("predicate")) {
        rel.predicate = field<std::string>(path, line, r, "predicate", "relation");
        if (blank(rel.predicate)) fail(path, ":", line, ": a relation has an empty predicate");
      }
      if (r.contains("union")) {
        rel.union_region = field<int64_t>(path, line, r, "union", "relation");
        if (rel.union_region < 0) fail(path, ":", line, ": a relation's union names region ", rel.union_region);
      }
      if (rel.subject < 0 || rel.object < 0)
        fail(path, ":", line, ": a relation names region ", std::min(rel.subject, rel.object));
      g.relations.push_back(std::move(rel));
    }
    graphs.push_back(std::move(g));
  }
  return graphs;
}

void write_scene_graphs(const std::string& path, const std::vector<SceneGraph>& graphs) {
  write_file_atomic(path, [&](std::ostream& out) {
    for (const SceneGraph& g : graphs) {
      Json j = {{"objects", Json::array()}, {"relations", Json::array()}};
      for (const auto& o : g.objects) j["objects"].push_back({{"region", o.region}, {"label", o.label}});
      for (const auto& r : g.relations) {
        Json rel = {{"subject", r.subject}, {"object", r.object}};
        if (!r.predicate.empty()) rel["predicate"] = r.predicate;
        if (r.union_region >= 0) rel["union"] = r.union_region;
        j["relations"].push_back(std::move(rel));
      }
      out << j.dump() << '\n';
    }
  });
}

namespace {

// Probes with their line numbers, so later checks can name file:line.
std::vector<std::pair<size_t, Probe>> read_numbered_probes(const std::string& path) {
  std::vector<std::string> lines = read_lines(path);
  std::vector<std::pair<size_t, Probe>> probes;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t line = i + 1;
    if (blank(lines[i])) continue;  // probes are not tied to line numbers
    Json j = parse_json_line(path, line, lines[i]);
    Probe p;
    p.image = field<int64_t>(path, line, j, "image", "probe");
    p.positive = field<std::string>(path, line, j, "positive", "probe");
    p.kind = field<std::string>(path, line, j, "kind", "probe");
    if (j.contains("subset")) p.subset = field<std::string>(path, line, j, "subset", "probe");
    if (p.image < 0) fail(path, ":", line, ": image ", p.image, " out of range");
    if (blank(p.positive)) fail(path, ":", line, ": empty 'positive' caption");
    auto it = j.find("negatives");
    if (it == j.end() || !it->is_array() || it->empty())
      fail(path, ":", line, ": 'negatives' must be a non-empty array of captions");
    for (const Json& n : *it) {
      if (!n.is_string() || blank(n.get<std::string>()))
        fail(path, ":", line, ": each of 'negatives' must be a non-empty string");
      p.negatives.push_back(n.get<std::string>());
    }
    probes.emplace_back(line, std::move(p));
  }
  return probes;
}

}  // namespace

std::vector<Probe> read_probes(const std::string& path) {
  std::vector<Probe> probes;
  for (auto& [line, p] : read_numbered_probes(path)) probes.push_back(std::move(p));
  return probes;
}

Split load_split(const std::string& dir, const std::string& split, const LoadOptions& options) {
  Split s;
  s.dir = dir;
  s.name = split;
  const std::string ims = s.file("ims.npy"), caps = s.file("caps.txt");
  if (!file_exists(ims)) fail(ims, ": missing (every split needs its region features)");
  s.images = open_shaped(ims, 3, "(N, R, F)");
  const int64_t n = s.num_images();
  if (n == 0) fail(ims, ": the split has no images");

  s.captions = read_caption_lines(caps);
  if (s.num_captions() == 5 * n) {
    s.captions_per_image = 5;
  } else if (s.num_captions() == n) {
    s.captions_per_image = 1;
  } else {
    fail("count mismatch: ", caps, " has ", s.num_captions(), " captions, ", ims, " has ", n,
         " images (captions must be 5 or 1 per image)");
  }

  const RelationSource relations =
      options.scene_graphs ? resolve_relation_source(dir, split, options.relations) : RelationSource::None;
  if (options.boxes || relations == RelationSource::Boxes) load_boxes(s);

  if (options.scene_graphs) {
    const std::string vsg = s.file("vsg.jsonl");
    const bool given = file_exists(vsg);
    s.relation_source = relations;
    if (relations == RelationSource::Given) {
      if (!given)
        fail(vsg, ": missing; it is needed for relations=given (auto, boxes or features derive a graph instead)");
      s.scene_graphs = read_scene_graphs(vsg);
      check_count(ims, n, vsg, static_cast<int64_t>(s.scene_graphs.size()), "images");
      if (file_exists(s.file("vsg_rel.npy"))) s.relation_features = open_shaped(s.file("vsg_rel.npy"), 3, "(N, P, F)");
    } else if (relations == RelationSource::None) {
      // Object labels still count at the object level; the relations are dropped.
      s.scene_graphs = std::vector<SceneGraph>(n);
      if (given) {
        s.scene_graphs = read_scene_graphs(vsg);
        check_count(ims, n, vsg, static_cast<int64_t>(s.scene_graphs.size()), "images");
      }
      for (auto& g : s.scene_graphs) g.relations.clear();
    } else {
      s.scene_graphs = derive_scene_graphs(s, relations);
    }
    check_scene_graphs(s);
  }

  if (options.probes) {
    const std::string file = s.file("probes.jsonl");
    if (!file_exists(file)) fail(file, ": missing; the probe command needs it");
    for (auto& [line, p] : read_numbered_probes(file)) {
      if (p.image >= n) fail(file, ":", line, ": image ", p.image, " out of range (", ims, " has ", n, " images)");
      s.probes.push_back(std::move(p));
    }
  }
  return s;
}

}  // namespace sm
