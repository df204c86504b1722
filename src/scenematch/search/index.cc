#include "scenematch/search/index.h"

#include <faiss/Index.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <numeric>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/runtime.h"
#include "scenematch/eval/metrics.h"
#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"
#include "scenematch/text/caption_parser.h"

namespace fs = std::filesystem;

namespace sm {
namespace {

constexpr int kFormat = 2;            // 2: encoding parts kept in their own types
constexpr int64_t kScoreBlock = 256;  // items per score() call in exhaustive scoring

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::unique_ptr<faiss::Index> new_faiss_index(int64_t dim, const std::string& factory) {
  try {
    return std::unique_ptr<faiss::Index>(faiss::index_factory(dim, factory.c_str(), faiss::METRIC_INNER_PRODUCT));
  } catch (const faiss::FaissException& e) {
    fail("index: FAISS factory string '", factory, "' is not valid for ", dim, "-d vectors: ", e.what());
  }
}

// One side of an index: the images or the captions.
struct Side {
  std::unique_ptr<faiss::Index> index;
  NpyArray global;                                      // (N, d) the vectors in `index`, for exhaustive dot products
  std::vector<std::pair<std::string, NpyArray>> parts;  // the model's encoding, in its own types
  int64_t count = 0;

  Encoding gather(const std::vector<int64_t>& ids) const {
    Encoding e;
    for (const auto& [name, part] : parts) e[name] = part.stored_gather(ids);
    return e;
  }
  Encoding rows(int64_t begin, int64_t end) const {
    Encoding e;
    for (const auto& [name, part] : parts) e[name] = part.stored_rows(begin, end);
    return e;
  }
};

Json write_side(const std::string& dir, const std::string& prefix, const Matcher& model, const Encoding& encoding,
                bool is_image, const std::string& factory) {
  torch::Tensor g = global_vectors(model, encoding, is_image);
  const int64_t n = g.size(0), d = g.size(1);
  write_npy(dir + "/" + prefix + ".global.npy", g);
  auto index = new_faiss_index(d, factory);
  try {
    if (!index->is_trained) index->train(n, g.data_ptr<float>());
    index->add(n, g.data_ptr<float>());
    faiss::write_index(index.get(), (dir + "/" + prefix + ".faiss").c_str());
  } catch (const faiss::FaissException& e) {
    fail("index: FAISS could not build '", factory, "' over ", n, " ", prefix, " vectors: ", e.what());
  }
  Json parts = Json::object();
  if (!model.embedding_scores()) {
    for (const auto& [name, t] : encoding.parts) {
      write_npy(dir + "/" + prefix + ".part." + name + ".npy", t);
      parts[name] = npy_dtype_name(npy_dtype_of(t.scalar_type()));
    }
  }
  return {{"count", n}, {"dim", d}, {"parts", parts}};
}

Side open_side(const std::string& dir, const std::string& prefix, const Json& info) {
  Side s;
  const std::string path = dir + "/" + prefix + ".faiss";
  try {
    s.index.reset(faiss::read_index(path.c_str()));
  } catch (const faiss::FaissException& e) {
    fail(path, ": not a readable FAISS index (", e.what(), "); rebuild it with scenematch index");
  }
  s.count = info.at("count").get<int64_t>();
  if (s.index->ntotal != s.count)
    fail(path, ": holds ", s.index->ntotal, " vectors but the manifest says ", s.count,
         "; rebuild it with scenematch index");
  s.global = NpyArray::open(dir + "/" + prefix + ".global.npy");
  for (const auto& [name, dtype] : info.at("parts").items()) {
    NpyArray part = NpyArray::open(dir + "/" + prefix + ".part." + name + ".npy");
    if (part.rows() != s.count)
      fail(part.path(), ": ", part.rows(), " rows, expected ", s.count, "; rebuild it with scenematch index");
    if (npy_dtype_name(part.dtype()) != dtype.get<std::string>())
      fail(part.path(), ": holds ", npy_dtype_name(part.dtype()), " but the manifest says ", dtype.get<std::string>(),
           "; rebuild it with scenematch index");
    s.parts.push_back({name, std::move(part)});
  }
  return s;
}

std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

// Moves the finished folder `tmp` over `out` (an earlier index there is
// replaced only once the new one is complete).
void install_folder(const std::string& tmp, const std::string& out) {
  if (fs::exists(out)) {
    if (!fs::exists(out + "/manifest.json") && !fs::is_empty(out))
      fail("index: ", out, " exists and is not a scenematch index; choose another --out");
    const std::string old = cat(out, ".old.", ::getpid());
    fs::rename(out, old);
    fs::rename(tmp, out);
    fs::remove_all(old);
  } else {
    fs::rename(tmp, out);
  }
}

}  // namespace

torch::Tensor global_vectors(const Matcher& model, const Encoding& encoding, bool is_image) {
  c10::InferenceMode inference;
  return model.global_embedding(encoding, is_image).to(torch::kCPU, torch::kFloat).contiguous();
}

Json scene_graph_json(const CaptionGraph& g) {
  Json objects = Json::array(), relations = Json::array();
  for (const auto& o : g.objects)
    objects.push_back({{"word", o.word}, {"attributes", o.attributes}, {"count", o.count}});
  for (const auto& r : g.relations)
    relations.push_back({{"subject", r.subject}, {"predicate", r.predicate}, {"object", r.object}});
  return {{"tokens", g.tokens}, {"objects", objects}, {"relations", relations}, {"quality", g.quality}};
}

Json build_index(const IndexOptions& o) {
  if (o.out.empty()) fail("index: --out is required");
  EvalDataOptions data_options;
  data_options.threads = o.threads;
  ModelData md = load_model_data(o.checkpoint, o.data, o.split, parse_device(o.device), data_options);
  Matcher& model = md.model();
  const Split& split = md.split();

  const std::string tmp = cat(o.out, ".tmp.", ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    std::vector<int64_t> image_ids(split.num_images()), caption_ids(split.num_captions());
    std::iota(image_ids.begin(), image_ids.end(), 0);
    std::iota(caption_ids.begin(), caption_ids.end(), 0);
    const Encoding image_encoding = encode_images(model, md.batcher(), image_ids);
    Json images = write_side(tmp, "images", model, image_encoding, true, o.factory);
    Json captions;
    if (o.captions)
      captions =
          write_side(tmp, "captions", model, encode_captions(model, md.batcher(), caption_ids), false, o.factory);
    if (o.captions && captions["dim"] != images["dim"])
      fail("index: model '", model.name(), "' gives ", images["dim"], "-d image vectors but ", captions["dim"],
           "-d caption vectors");

    const std::string features = split.file("ims.npy");
    Json manifest = {
        {"format", kFormat},
        {"model", md.bundle.name},
        {"checkpoint", {{"path", absolute(o.checkpoint)}, {"hash", file_hash_hex(o.checkpoint)}}},
        {"data",
         {{"dir", absolute(o.data)},
          {"split", o.split},
          {"captions_hash", file_hash_hex(split.file("caps.txt"))},
          {"features_bytes", static_cast<int64_t>(fs::file_size(features))}}},
        {"factory", o.factory},
        {"embedding_scores", model.embedding_scores()},
        {"global_embedding", model.embedding_scores() ? "score vectors" : "first-stage vectors"},
        {"images", images},
        {"captions", o.captions ? captions : Json(nullptr)},
        {"captions_per_image", split.captions_per_image},
    };
    write_file_atomic(tmp + "/manifest.json", manifest.dump(2) + "\n");
    install_folder(tmp, o.out);
    return manifest;
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
}

struct SearchIndex::Impl {
  std::string dir;
  Json manifest;
  ModelData md;
  Side images, captions;
  bool has_captions = false;
  std::unique_ptr<CaptionParser> parser;  // every query is parsed, to show its scene graph
  std::mutex parser_mutex;                // Link Grammar sentences are parsed one at a time

  bool two_stage() const { return !md.model().embedding_scores(); }

  // Ranks the items of `side` for one query encoding (an image when the side
  // holds captions, a caption when it holds images).
  SearchResult rank(const Side& side, bool side_is_images, const Encoding& query, const SearchOptions& o) const {
    c10::InferenceMode inference;
    Matcher& model = md.model();
    const torch::Device device = model.device();
    auto full_score = [&](const Encoding& items) {
      torch::Tensor s = side_is_images ? model.score(items.to(device), query) : model.score(query, items.to(device));
      return (side_is_images ? s.select(1, 0) : s.select(0, 0)).to(torch::kCPU, torch::kFloat);
    };
    const int64_t k = std::min(o.k, side.count);
    SearchResult r;
    torch::Tensor ids, scores;
    if (o.exhaustive) {
      r.mode = "exhaustive";
      r.candidates = side.count;
      std::vector<torch::Tensor> blocks;
      if (!two_stage()) {
        torch::Tensor q = global_vectors(model, query, !side_is_images);
        blocks.push_back(side.global.rows(0, side.count).matmul(q.squeeze(0)));
      } else {
        for (int64_t b = 0; b < side.count; b += kScoreBlock)
          blocks.push_back(full_score(side.rows(b, std::min(side.count, b + kScoreBlock))));
      }
      auto [top, idx] = torch::cat(blocks).topk(k);
      scores = top, ids = idx;
    } else {
      torch::Tensor q = global_vectors(model, query, !side_is_images);
      const int64_t n = two_stage() ? std::min(side.count, std::max(o.candidates, k)) : k;
      std::vector<float> distances(n);
      std::vector<faiss::Index::idx_t> labels(n);
      side.index->search(1, q.data_ptr<float>(), n, distances.data(), labels.data());
      std::vector<int64_t> found;
      for (int64_t i = 0; i < n && labels[i] >= 0; ++i) found.push_back(labels[i]);
      if (!two_stage()) {
        r.mode = "embedding";
        ids = torch::tensor(found, torch::kLong);
        scores = torch::from_blob(distances.data(), {static_cast<int64_t>(found.size())}).clone();
      } else {
        r.mode = "two-stage";
        r.candidates = static_cast<int64_t>(found.size());
        auto [top, idx] = full_score(side.gather(found)).topk(std::min<int64_t>(k, found.size()));
        scores = top;
        ids = torch::tensor(found, torch::kLong).index({idx});
      }
    }
    for (int64_t i = 0; i < ids.size(0); ++i) r.hits.push_back({ids[i].item<int64_t>(), scores[i].item<float>()});
    return r;
  }

  Encoding encode_image(int64_t image) const {
    c10::InferenceMode inference;
    return md.model().encode_images(md.batcher().images({image}));
  }
};

Json read_index_manifest(const std::string& path) {
  Json m;
  try {
    m = Json::parse(read_file(path));
  } catch (const Json::exception& e) {
    fail(path, ": invalid JSON (", e.what(), "); rebuild the index with scenematch index");
  }
  // The value at `keys`, which must pass `is_kind`.
  auto field = [&](std::initializer_list<const char*> keys, bool (Json::*is_kind)() const noexcept,
                   const char* kind) -> const Json& {
    const Json* at = &m;
    std::string name;
    for (const char* key : keys) {
      name += name.empty() ? key : cat(".", key);
      if (!at->is_object() || !at->contains(key))
        fail(path, ": no field '", name, "'; rebuild the index with scenematch index");
      at = &(*at)[key];
    }
    if (!(at->*is_kind)())
      fail(path, ": field '", name, "' must be ", kind, "; rebuild the index with scenematch index");
    return *at;
  };
  const int64_t format = field({"format"}, &Json::is_number_integer, "an integer").get<int64_t>();
  if (format != kFormat)
    fail(path, ": index format ", format, ", this build reads format ", kFormat, "; rebuild it with scenematch index");
  for (auto keys : {std::initializer_list<const char*>{"model"},
                    {"checkpoint", "path"},
                    {"checkpoint", "hash"},
                    {"data", "dir"},
                    {"data", "split"},
                    {"data", "captions_hash"}})
    field(keys, &Json::is_string, "a string");
  for (const char* side : {"images", "captions"}) {
    if (std::string(side) == "captions" && m.contains(side) && m[side].is_null()) continue;  // built with --no-captions
    if (field({side, "count"}, &Json::is_number_integer, "an integer").get<int64_t>() < 0)
      fail(path, ": field '", side, ".count' is negative; rebuild the index with scenematch index");
    for (const auto& [name, dtype] : field({side, "parts"}, &Json::is_object, "an object").items())
      if (!dtype.is_string())
        fail(path, ": field '", side, ".parts.", name,
             "' must be a dtype name; rebuild the index with scenematch index");
  }
  return m;
}

SearchIndex::SearchIndex() : impl_(std::make_unique<Impl>()) {}
SearchIndex::~SearchIndex() = default;

std::unique_ptr<SearchIndex> SearchIndex::open(const std::string& dir, const std::string& checkpoint,
                                               const std::string& device) {
  const std::string manifest_path = dir + "/manifest.json";
  if (!fs::exists(manifest_path))
    fail(dir, ": not a scenematch index (no manifest.json); build one with scenematch index");
  std::unique_ptr<SearchIndex> index(new SearchIndex());
  Impl& impl = *index->impl_;
  impl.dir = dir;
  impl.manifest = read_index_manifest(manifest_path);
  const Json& m = impl.manifest;
  const std::string ck = checkpoint.empty() ? m["checkpoint"]["path"].get<std::string>() : checkpoint;
  const std::string built_hash = m["checkpoint"]["hash"].get<std::string>();
  if (!fs::exists(ck)) fail(dir, ": checkpoint ", ck, " (named by the index) does not exist; pass --checkpoint");
  const std::string hash = file_hash_hex(ck);
  if (hash != built_hash)
    fail("index ", dir, " does not match checkpoint ", ck, ": it was built from ",
         m["checkpoint"]["path"].get<std::string>(), " with hash ", built_hash, ", this file has hash ", hash,
         "; rebuild it with scenematch index --checkpoint ", ck, " --out ", dir);
  const Json& data = m["data"];
  impl.md = load_model_data(ck, data["dir"], data["split"], parse_device(device));
  if (impl.md.bundle.name != m["model"])
    fail("index ", dir, " was built for model '", m["model"].get<std::string>(), "' but ", ck, " holds '",
         impl.md.bundle.name, "'");
  const Split& split = impl.md.split();
  if (file_hash_hex(split.file("caps.txt")) != data["captions_hash"] ||
      split.num_images() != m["images"]["count"].get<int64_t>())
    fail("index ", dir, ": the data in ", data["dir"].get<std::string>(), " (split ", data["split"].get<std::string>(),
         ") changed since the index was built; rebuild it with scenematch index");
  impl.md.model().eval();
  impl.images = open_side(dir, "images", m["images"]);
  impl.has_captions = !m["captions"].is_null();
  if (impl.has_captions) impl.captions = open_side(dir, "captions", m["captions"]);
  impl.parser = std::make_unique<CaptionParser>();
  return index;
}

SearchResult SearchIndex::search_text(const std::string& text, const SearchOptions& o) const {
  const auto start = std::chrono::steady_clock::now();
  CaptionGraph graph;
  {
    std::lock_guard<std::mutex> lock(impl_->parser_mutex);
    graph = impl_->parser->parse(text);
  }
  if (graph.tokens.empty()) fail("search: the query has no words");
  Encoding query;
  {
    c10::InferenceMode inference;
    query = model().encode_captions(impl_->md.batcher().captions_from({&graph}, {0}));
  }
  SearchResult r = impl_->rank(impl_->images, true, query, o);
  r.query = std::move(graph);
  r.milliseconds = elapsed_ms(start);
  return r;
}

SearchResult SearchIndex::search_image(int64_t image, const SearchOptions& o) const {
  if (!impl_->has_captions) fail("search: index ", impl_->dir, " holds no captions (built with --no-captions)");
  if (image < 0 || image >= split().num_images())
    fail("search: no image ", image, " (the split has ", split().num_images(), ")");
  const auto start = std::chrono::steady_clock::now();
  SearchResult r = impl_->rank(impl_->captions, false, impl_->encode_image(image), o);
  r.milliseconds = elapsed_ms(start);
  return r;
}

const Json& SearchIndex::manifest() const { return impl_->manifest; }
const Split& SearchIndex::split() const { return impl_->md.split(); }
Matcher& SearchIndex::model() const { return impl_->md.model(); }
bool SearchIndex::has_captions() const { return impl_->has_captions; }
bool SearchIndex::two_stage() const { return impl_->two_stage(); }

Json SearchIndex::evaluate_two_stage(int64_t candidates, int64_t timed_queries) const {
  if (!impl_->has_captions) fail("evaluate: index ", impl_->dir, " holds no captions (built with --no-captions)");
  Matcher& model = this->model();
  const Batcher& batcher = impl_->md.batcher();
  const Split& s = split();
  const int64_t ni = s.num_images(), nc = s.num_captions();
  std::vector<int64_t> image_ids(ni), caption_ids(nc);
  std::iota(image_ids.begin(), image_ids.end(), 0);
  std::iota(caption_ids.begin(), caption_ids.end(), 0);
  SimilarityOptions so;
  so.progress = false;
  const Encoding images = encode_images(model, batcher, image_ids, so);
  const Encoding captions = encode_captions(model, batcher, caption_ids, so);
  const torch::Tensor exact = similarity_matrix(model, images, captions, so);

  // First stage for every query at once; the second stage keeps the exact
  // scores of the candidates (the same model on the same encodings), so only
  // what the first stage missed differs from exhaustive scoring.
  auto first_stage = [&](const Side& side, const torch::Tensor& queries, int64_t n) {
    torch::Tensor q = queries.contiguous();
    const int64_t nq = q.size(0);
    n = std::min(n, side.count);
    torch::Tensor labels = torch::empty({nq, n}, torch::kLong);
    std::vector<float> distances(nq * n);
    static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t));
    side.index->search(nq, q.data_ptr<float>(), n, distances.data(),
                       reinterpret_cast<faiss::Index::idx_t*>(labels.data_ptr<int64_t>()));
    return labels.clamp_min(0);
  };
  const float inf = std::numeric_limits<float>::infinity();
  torch::Tensor t2i = torch::full_like(exact, -inf), i2t = torch::full_like(exact, -inf);
  const torch::Tensor t2i_cand = first_stage(impl_->images, impl_->captions.global.rows(0, nc), candidates);  // (Nc, K)
  const torch::Tensor i2t_cand = first_stage(impl_->captions, impl_->images.global.rows(0, ni), candidates);  // (Ni, K)
  const torch::Tensor exact_t = exact.t().contiguous();
  torch::Tensor t2i_t = t2i.t().contiguous();
  t2i_t.scatter_(1, t2i_cand, exact_t.gather(1, t2i_cand));
  t2i = t2i_t.t();
  i2t.scatter_(1, i2t_cand, exact.gather(1, i2t_cand));
  const RecallMetrics full = recall_metrics(exact, s.captions_per_image);
  const RecallMetrics two_t2i = recall_metrics(t2i, s.captions_per_image);
  const RecallMetrics two_i2t = recall_metrics(i2t, s.captions_per_image);

  // Per-query time from the encoded query on (encoding is the same cost in both).
  auto time_queries = [&](bool exhaustive, bool text_queries) {
    SearchOptions o;
    o.k = 10, o.candidates = candidates, o.exhaustive = exhaustive;
    const int64_t n = std::min(timed_queries, text_queries ? nc : ni);
    const auto start = std::chrono::steady_clock::now();
    for (int64_t q = 0; q < n; ++q) {
      if (text_queries)
        impl_->rank(impl_->images, true, captions.slice(q, q + 1), o);
      else
        impl_->rank(impl_->captions, false, images.slice(q, q + 1), o);
    }
    return elapsed_ms(start) / std::max<int64_t>(n, 1);
  };
  Json report = {
      {"model", impl_->md.bundle.name},
      {"factory", impl_->manifest["factory"]},
      {"candidates", candidates},
      {"images", ni},
      {"captions", nc},
      {"exhaustive",
       {{"t2i_r1", full.t2i_r1},
        {"t2i_r5", full.t2i_r5},
        {"t2i_r10", full.t2i_r10},
        {"i2t_r1", full.i2t_r1},
        {"i2t_r5", full.i2t_r5},
        {"i2t_r10", full.i2t_r10}}},
      {"two_stage",
       {{"t2i_r1", two_t2i.t2i_r1},
        {"t2i_r5", two_t2i.t2i_r5},
        {"t2i_r10", two_t2i.t2i_r10},
        {"i2t_r1", two_i2t.i2t_r1},
        {"i2t_r5", two_i2t.i2t_r5},
        {"i2t_r10", two_i2t.i2t_r10}}},
  };
  const double t2i_two = time_queries(false, true), t2i_full = time_queries(true, true);
  const double i2t_two = time_queries(false, false), i2t_full = time_queries(true, false);
  report["ms_per_query"] = {{"t2i_two_stage", t2i_two},
                            {"t2i_exhaustive", t2i_full},
                            {"i2t_two_stage", i2t_two},
                            {"i2t_exhaustive", i2t_full}};
  report["speedup"] = {{"t2i", t2i_full / t2i_two}, {"i2t", i2t_full / i2t_two}};
  return report;
}

}  // namespace sm
