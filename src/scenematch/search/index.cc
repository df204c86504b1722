#include "scenematch/search/index.h"

#include <faiss/Index.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <numeric>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/runtime.h"
#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"
#include "scenematch/search/cascade.h"
#include "scenematch/text/caption_parser.h"

namespace fs = std::filesystem;

namespace sm {
namespace {

// 2: encoding parts kept in their own types; 3: an optional first-stage
// model and the FAISS search parameters.
constexpr int kFormat = 3;
constexpr int64_t kScoreBlock = 256;  // items per score() call in exhaustive scoring

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// One side of an index: the images or the captions.
struct Side {
  std::unique_ptr<faiss::Index> index;
  NpyArray global;                                      // (N, d) the vectors in `index`, for exhaustive dot products
  std::vector<std::pair<std::string, NpyArray>> parts;  // the model's encoding, in its own types
  int64_t count = 0;
  AnnParams defaults;  // the search parameters the index was built with

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

// Writes one side: `global` (the first stage's vectors) in a FAISS index and
// as .npy, and the parts of `encoding` when a second stage re-scores them.
Json write_side(const std::string& dir, const std::string& prefix, const torch::Tensor& global,
                const Encoding& encoding, bool store_parts, const IndexOptions& o) {
  const int64_t n = global.size(0), d = global.size(1);
  write_npy(dir + "/" + prefix + ".global.npy", global);
  std::unique_ptr<faiss::Index> index;
  try {
    index = build_ann(o.factory, d, n, global.data_ptr<float>());
  } catch (const Error& e) {
    fail("index: ", prefix, ": ", e.what());
  }
  try {
    check_ann_params(*index, o.ann);
  } catch (const Error& e) {
    fail("index: ", e.what());
  }
  set_default_ann_params(*index, o.ann);
  const AnnParams params = default_ann_params(*index);
  try {
    faiss::write_index(index.get(), (dir + "/" + prefix + ".faiss").c_str());
  } catch (const faiss::FaissException& e) {
    fail("index: FAISS could not write ", dir, "/", prefix, ".faiss: ", e.what());
  }
  Json parts = Json::object();
  if (store_parts) {
    for (const auto& [name, t] : encoding.parts) {
      write_npy(dir + "/" + prefix + ".part." + name + ".npy", t);
      parts[name] = npy_dtype_name(npy_dtype_of(t.scalar_type()));
    }
  }
  return {{"count", n}, {"dim", d}, {"parts", parts}, {"search_params", ann_params_json(*index, params)}};
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
  set_default_ann_params(*s.index, ann_params_from_json(info.at("search_params")));
  s.defaults = default_ann_params(*s.index);
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
  std::unique_ptr<ModelData> first;
  if (!o.first_stage.empty()) {
    if (model.embedding_scores())
      fail("index: --first-stage gives a graph model its candidates, but ", o.checkpoint, " holds '", md.bundle.name,
           "', an embedding model that is its own first stage; leave --first-stage out");
    first = std::make_unique<ModelData>(
        load_model_data(o.first_stage, o.data, o.split, parse_device(o.device), data_options));
    if (!first->model().embedding_scores())
      fail("index: --first-stage ", o.first_stage, " holds '", first->bundle.name,
           "', whose score is not a dot product of global embeddings; give an embedding model's checkpoint (VSE++, "
           "VSE-infinity, HREM, ALGR)");
  }

  const std::string tmp = cat(o.out, ".tmp.", ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    std::vector<int64_t> image_ids(split.num_images()), caption_ids(split.num_captions());
    std::iota(image_ids.begin(), image_ids.end(), 0);
    std::iota(caption_ids.begin(), caption_ids.end(), 0);
    // The first stage's vectors: the first-stage model's, or the model's own.
    auto first_vectors = [&](const Encoding& own, bool is_image) {
      if (!first) return global_vectors(model, own, is_image);
      const std::vector<int64_t>& ids = is_image ? image_ids : caption_ids;
      const Encoding e = is_image ? encode_images(first->model(), first->batcher(), ids)
                                  : encode_captions(first->model(), first->batcher(), ids);
      return global_vectors(first->model(), e, is_image);
    };
    const bool store_parts = !model.embedding_scores();
    const Encoding image_encoding = encode_images(model, md.batcher(), image_ids);
    Json images = write_side(tmp, "images", first_vectors(image_encoding, true), image_encoding, store_parts, o);
    Json captions;
    if (o.captions) {
      const Encoding caption_encoding = encode_captions(model, md.batcher(), caption_ids);
      captions = write_side(tmp, "captions", first_vectors(caption_encoding, false), caption_encoding, store_parts, o);
    }
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
        {"first_stage",
         first ? Json{{"model", first->bundle.name},
                      {"checkpoint", {{"path", absolute(o.first_stage)}, {"hash", file_hash_hex(o.first_stage)}}}}
               : Json(nullptr)},
        {"factory", o.factory},
        {"search_params", images["search_params"]},
        {"embedding_scores", model.embedding_scores()},
        {"global_embedding", model.embedding_scores() ? "score vectors"
                             : first                  ? "first-stage model's score vectors"
                                                      : "first-stage vectors"},
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
  std::unique_ptr<ModelData> first;  // the first-stage model, when the index names one
  Side images, captions;
  bool has_captions = false;
  std::unique_ptr<CaptionParser> parser;  // every query is parsed, to show its scene graph
  std::mutex parser_mutex;                // Link Grammar sentences are parsed one at a time

  bool two_stage() const { return !md.model().embedding_scores(); }

  // The first stage's vector of a text query (its parse and the model's own
  // encoding of it) or of an image query.
  torch::Tensor text_vector(const CaptionGraph& graph, const Encoding& own) const {
    if (!first) return global_vectors(md.model(), own, false);
    c10::InferenceMode inference;
    return global_vectors(first->model(), first->model().encode_captions(first->batcher().captions_from({&graph}, {0})),
                          false);
  }
  torch::Tensor image_vector(int64_t image, const Encoding& own) const {
    if (!first) return global_vectors(md.model(), own, true);
    c10::InferenceMode inference;
    return global_vectors(first->model(), first->model().encode_images(first->batcher().images({image})), true);
  }
  bool needs_first_stage(const SearchOptions& o) const { return !o.exhaustive || !two_stage(); }

  // Ranks the items of `side` for one query: `query` is its encoding by the
  // model (an image when the side holds captions, a caption when it holds
  // images), `vector` its first-stage vector (undefined for exhaustive
  // scoring by a graph model).
  SearchResult rank(const Side& side, bool side_is_images, const Encoding& query, const torch::Tensor& vector,
                    const SearchOptions& o) const {
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
        blocks.push_back(side.global.rows(0, side.count).matmul(vector.squeeze(0)));
      } else {
        for (int64_t b = 0; b < side.count; b += kScoreBlock)
          blocks.push_back(full_score(side.rows(b, std::min(side.count, b + kScoreBlock))));
      }
      auto [top, idx] = torch::cat(blocks).topk(k);
      scores = top, ids = idx;
    } else {
      const int64_t n = two_stage() ? std::min(side.count, std::max(o.candidates, k)) : k;
      std::vector<float> distances(n);
      std::vector<int64_t> labels(n);
      torch::Tensor q = vector.contiguous();
      ann_search(*side.index, resolve_ann_params(o.ann, side.defaults), 1, q.data_ptr<float>(), n, distances.data(),
                 labels.data());
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

namespace {

// The checkpoint `what` of index `dir` names, refused unless its file hash is
// the one the index was built from.
void check_checkpoint(const std::string& dir, const std::string& path, const Json& built, const std::string& option) {
  const std::string built_hash = built["hash"].get<std::string>();
  if (!fs::exists(path))
    fail(dir, ": checkpoint ", path, " (named by the index) does not exist; pass ", option,
         " or rebuild the index with scenematch index");
  const std::string hash = file_hash_hex(path);
  if (hash != built_hash)
    fail("index ", dir, " does not match checkpoint ", path, ": it was built from ", built["path"].get<std::string>(),
         " with hash ", built_hash, ", this file has hash ", hash, "; rebuild it with scenematch index ", option, " ",
         path, " --out ", dir);
}

}  // namespace

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
  check_checkpoint(dir, ck, m["checkpoint"], "--checkpoint");
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
  if (!m["first_stage"].is_null()) {
    const Json& fs_info = m["first_stage"];
    const std::string path = fs_info["checkpoint"]["path"].get<std::string>();
    check_checkpoint(dir, path, fs_info["checkpoint"], "--first-stage");
    impl.first = std::make_unique<ModelData>(load_model_data(path, data["dir"], data["split"], parse_device(device)));
    impl.first->model().eval();
  }
  impl.images = open_side(dir, "images", m["images"]);
  impl.has_captions = !m["captions"].is_null();
  if (impl.has_captions) impl.captions = open_side(dir, "captions", m["captions"]);
  impl.parser = std::make_unique<CaptionParser>();
  return index;
}

SearchResult SearchIndex::search_text(const std::string& text, const SearchOptions& o) const {
  check_options(o);
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
  const torch::Tensor vector = impl_->needs_first_stage(o) ? impl_->text_vector(graph, query) : torch::Tensor();
  SearchResult r = impl_->rank(impl_->images, true, query, vector, o);
  r.query = std::move(graph);
  r.milliseconds = elapsed_ms(start);
  return r;
}

SearchResult SearchIndex::search_image(int64_t image, const SearchOptions& o) const {
  if (!impl_->has_captions) fail("search: index ", impl_->dir, " holds no captions (built with --no-captions)");
  if (image < 0 || image >= split().num_images())
    fail("search: no image ", image, " (the split has ", split().num_images(), ")");
  check_options(o);
  const auto start = std::chrono::steady_clock::now();
  const Encoding query = impl_->encode_image(image);
  const torch::Tensor vector = impl_->needs_first_stage(o) ? impl_->image_vector(image, query) : torch::Tensor();
  SearchResult r = impl_->rank(impl_->captions, false, query, vector, o);
  r.milliseconds = elapsed_ms(start);
  return r;
}

const Json& SearchIndex::manifest() const { return impl_->manifest; }
const Split& SearchIndex::split() const { return impl_->md.split(); }
Matcher& SearchIndex::model() const { return impl_->md.model(); }
bool SearchIndex::has_captions() const { return impl_->has_captions; }
bool SearchIndex::two_stage() const { return impl_->two_stage(); }

void SearchIndex::check_options(const SearchOptions& o) const {
  try {
    check_ann_params(*impl_->images.index, o.ann);
  } catch (const Error& e) {
    fail("search: index ", impl_->dir, " (", impl_->manifest["factory"].get<std::string>(), "): ", e.what());
  }
}

Json SearchIndex::search_params(const SearchOptions& o) const {
  return ann_params_json(*impl_->images.index, resolve_ann_params(o.ann, impl_->images.defaults));
}

Json SearchIndex::evaluate_two_stage(const std::vector<int64_t>& ks, const SearchOptions& options,
                                     int64_t timed_queries, int64_t sample_queries) const {
  if (!impl_->has_captions) fail("evaluate: index ", impl_->dir, " holds no captions (built with --no-captions)");
  if (ks.empty()) fail("evaluate: give at least one number of candidates");
  for (int64_t k : ks)
    if (k < 1) fail("evaluate: numbers of candidates must be positive, got ", k);
  if (sample_queries < 0)
    fail("evaluate: the number of sampled queries must be 0 (all) or positive, got ", sample_queries);
  check_options(options);
  const Impl& impl = *impl_;
  Matcher& model = this->model();
  const Batcher& batcher = impl.md.batcher();
  const Split& s = split();
  const int64_t ni = s.num_images(), nc = s.num_captions(), per = s.captions_per_image;
  std::vector<int64_t> image_ids(ni), caption_ids(nc);
  std::iota(image_ids.begin(), image_ids.end(), 0);
  std::iota(caption_ids.begin(), caption_ids.end(), 0);
  SimilarityOptions so;
  so.progress = false;
  const Encoding images = encode_images(model, batcher, image_ids, so);
  const Encoding captions = encode_captions(model, batcher, caption_ids, so);
  // The queries measured each way: all, or an evenly spaced sample, so that
  // a 5,000-image gallery needs the exhaustive scores of the sampled queries
  // only (their rows of the matrix), not all 125M pairs.
  const std::vector<int64_t> t2i_queries = evenly_spaced_ids(nc, sample_queries),
                             i2t_queries = evenly_spaced_ids(ni, sample_queries);
  const bool sampled = static_cast<int64_t>(t2i_queries.size()) < nc || static_cast<int64_t>(i2t_queries.size()) < ni;
  torch::Tensor exact_i2t, exact_t2i;  // (queries, gallery) exhaustive scores of each direction's queries
  if (!sampled) {
    exact_i2t = similarity_matrix(model, images, captions, so);  // (Ni, Nc)
    exact_t2i = exact_i2t.t().contiguous();
  } else {
    exact_t2i = similarity_matrix(model, images, captions.index(torch::tensor(t2i_queries)), so).t().contiguous();
    exact_i2t = similarity_matrix(model, images.index(torch::tensor(i2t_queries)), captions, so);
  }
  const auto all_t2i_truth = caption_queries_truth(ni, per), all_i2t_truth = image_queries_truth(ni, per);
  std::vector<std::vector<int64_t>> t2i_truth, i2t_truth;
  for (int64_t q : t2i_queries) t2i_truth.push_back(all_t2i_truth[q]);
  for (int64_t q : i2t_queries) i2t_truth.push_back(all_i2t_truth[q]);

  // The first stage for every query at once, from the stored first-stage
  // vectors; the second stage's scores are the exact ones (the same model on
  // the same encodings), so cascade_recall needs only the candidates.
  auto first_stage = [&](const Side& side, const Side& queries, const std::vector<int64_t>& ids, int64_t k) {
    torch::Tensor q = queries.global.gather(ids).contiguous();
    const int64_t nq = q.size(0);
    k = std::min(k, side.count);
    torch::Tensor labels = torch::empty({nq, k}, torch::kLong);
    std::vector<float> distances(nq * k);
    ann_search(*side.index, resolve_ann_params(options.ann, side.defaults), nq, q.data_ptr<float>(), k,
               distances.data(), labels.data_ptr<int64_t>());
    return labels;
  };

  // Mean time per query from the model's encoding of the query on, first
  // stage included (with a first-stage model, its encoding of the query too).
  auto time_queries = [&](bool text_queries, int64_t candidates, bool exhaustive) {
    SearchOptions o = options;
    o.k = 10, o.candidates = candidates, o.exhaustive = exhaustive;
    const int64_t n = std::min(timed_queries, text_queries ? nc : ni);
    const auto start = std::chrono::steady_clock::now();
    for (int64_t q = 0; q < n; ++q) {
      const Encoding query = (text_queries ? captions : images).slice(q, q + 1);
      torch::Tensor vector;
      if (impl.needs_first_stage(o)) {
        c10::InferenceMode inference;
        if (!impl.first)
          vector = global_vectors(model, query, !text_queries);
        else if (text_queries)
          vector = global_vectors(impl.first->model(),
                                  impl.first->model().encode_captions(impl.first->batcher().captions({q})), false);
        else
          vector = global_vectors(impl.first->model(),
                                  impl.first->model().encode_images(impl.first->batcher().images({q})), true);
      }
      if (text_queries)
        impl.rank(impl.images, true, query, vector, o);
      else
        impl.rank(impl.captions, false, query, vector, o);
    }
    return elapsed_ms(start) / static_cast<double>(std::max<int64_t>(n, 1));
  };

  const CascadeRecall full_t2i = cascade_recall({}, exact_t2i, t2i_truth),
                      full_i2t = cascade_recall({}, exact_i2t, i2t_truth);
  const double t2i_full_ms = time_queries(true, 0, true), i2t_full_ms = time_queries(false, 0, true);
  Json report = {
      {"model", impl.md.bundle.name},
      {"first_stage", impl.first ? Json(impl.first->bundle.name) : Json(impl.md.bundle.name)},
      {"factory", impl.manifest["factory"]},
      {"search_params", search_params(options)},
      {"images", ni},
      {"captions", nc},
      {"t2i_queries", t2i_queries.size()},
      {"i2t_queries", i2t_queries.size()},
      {"exhaustive",
       {{"t2i",
         {{"r1", full_t2i.r1},
          {"r5", full_t2i.r5},
          {"r10", full_t2i.r10},
          {"pair_scorings", two_stage() ? ni : 0},
          {"ms_per_query", t2i_full_ms}}},
        {"i2t",
         {{"r1", full_i2t.r1},
          {"r5", full_i2t.r5},
          {"r10", full_i2t.r10},
          {"pair_scorings", two_stage() ? nc : 0},
          {"ms_per_query", i2t_full_ms}}}}},
  };
  Json rows = Json::array();
  for (int64_t k : ks) {
    auto direction = [&](const CascadeRecall& c, double ms, double full_ms) {
      return Json{{"candidate_recall", c.candidate_recall},
                  {"r1", c.r1},
                  {"r5", c.r5},
                  {"r10", c.r10},
                  {"pair_scorings", two_stage() ? c.pair_scorings : 0},
                  {"ms_per_query", ms},
                  {"speedup", full_ms / ms}};
    };
    const CascadeRecall t2i =
        cascade_recall(first_stage(impl.images, impl.captions, t2i_queries, k), exact_t2i, t2i_truth);
    const CascadeRecall i2t =
        cascade_recall(first_stage(impl.captions, impl.images, i2t_queries, k), exact_i2t, i2t_truth);
    rows.push_back({{"candidates", k},
                    {"t2i", direction(t2i, time_queries(true, k, false), t2i_full_ms)},
                    {"i2t", direction(i2t, time_queries(false, k, false), i2t_full_ms)}});
  }
  report["two_stage"] = rows;
  return report;
}

}  // namespace sm
