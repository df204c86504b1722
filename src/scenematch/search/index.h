// Retrieval indexes: a folder holding a FAISS index of global embeddings for
// the images (and captions, for image-to-text search) of one split, the
// encodings a second stage needs to re-score candidates with the full model
// (memory-mapped .npy files), and a manifest naming the checkpoint and the
// data with their hashes. See docs/search.md.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "scenematch/core/config.h"
#include "scenematch/data/caption_graph.h"
#include "scenematch/data/dataset.h"
#include "scenematch/models/matcher.h"
#include "scenematch/search/ann.h"

namespace sm {

struct IndexOptions {
  std::string checkpoint, data, split = "test", out;
  // FAISS index_factory string over inner products: "Flat" (exact), "IVF1024,Flat", "HNSW32",
  // "IVF1024,PQ64", "IVF1024,SQfp16", ...
  std::string factory = "Flat";
  AnnParams ann;  // the search parameters recorded as the index's defaults (0: FAISS's own)
  // An embedding model's checkpoint whose global embeddings are the first
  // stage of a graph model's index (empty: the graph model's own).
  std::string first_stage;
  bool captions = true;  // also index the captions (image-to-text search)
  std::string device = "cpu";
  int threads = 0;  // caption parser threads
};

// Encodes the split once and writes the index folder atomically (built beside
// it, then renamed over it). Returns the manifest.
Json build_index(const IndexOptions& options);

// DIR/manifest.json, parsed and checked: every field open() reads is there
// and of its type, or the error names the file and the field.
Json read_index_manifest(const std::string& path);

// The vectors a first stage indexes: Matcher::global_embedding, on the CPU.
torch::Tensor global_vectors(const Matcher& model, const Encoding& encoding, bool is_image);

// A parsed query as JSON: tokens, objects (word, attributes, count),
// relations (subject, predicate, object) and the parse quality.
Json scene_graph_json(const CaptionGraph& graph);

struct SearchOptions {
  int64_t k = 10;
  int64_t candidates = 100;  // first-stage candidates re-scored by a graph model
  bool exhaustive = false;   // score every item with the full model instead
  AnnParams ann;             // first-stage search parameters (0: the index's defaults)
};

struct SearchHit {
  int64_t id = 0;  // image (text query) or caption (image query)
  float score = 0;
};

struct SearchResult {
  std::vector<SearchHit> hits;  // best first
  CaptionGraph query;           // the parsed text query (empty for an image query)
  std::string mode;             // "embedding", "two-stage" or "exhaustive"
  int64_t candidates = 0;       // items scored by the full model
  double milliseconds = 0;
};

class SearchIndex {
 public:
  // Opens DIR with the checkpoint its manifest names (or `checkpoint`), and
  // refuses one whose file hash is not the one the index was built from.
  static std::unique_ptr<SearchIndex> open(const std::string& dir, const std::string& checkpoint = "",
                                           const std::string& device = "cpu");
  ~SearchIndex();

  // Safe to call from several threads at once.
  SearchResult search_text(const std::string& text, const SearchOptions& options) const;
  SearchResult search_image(int64_t image, const SearchOptions& options) const;

  const Json& manifest() const;
  const Split& split() const;
  Matcher& model() const;
  bool has_captions() const;
  // False for embedding models, whose first stage is the answer.
  bool two_stage() const;
  // Throws Error when `options` ask for a first-stage parameter the index
  // does not have or out of its range.
  void check_options(const SearchOptions& options) const;
  // The first-stage parameters a search with `options` uses, as JSON
  // ({"nprobe": n} or {"efSearch": n}; empty for an exact first stage).
  Json search_params(const SearchOptions& options) const;

  // Two-stage search against exhaustive scoring of the same model over the
  // split's own captions and images, for each number of candidates K in
  // `candidates`, both ways: the first stage's candidate recall, two-stage
  // R@1/5/10 (a ground truth the first stage missed is a miss), full-model
  // scorings per query, and mean time per query on up to `timed_queries`
  // queries per direction. `options` gives the first stage's parameters.
  // `sample_queries` > 0 measures recall on that many evenly spaced queries
  // each way (evenly_spaced_ids) instead of all of them.
  Json evaluate_two_stage(const std::vector<int64_t>& candidates, const SearchOptions& options,
                          int64_t timed_queries = 100, int64_t sample_queries = 0) const;

 private:
  SearchIndex();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sm
