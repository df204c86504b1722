// The approximate first stage: FAISS indexes built from index_factory strings
// (Flat, IVF<n>,Flat, IVF<n>,PQ<m>, IVF<n>,SQfp16, HNSW<m>, ...) over inner
// products, and their search-time parameters, passed per call so that
// concurrent queries can each use their own. See docs/search.md.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "scenematch/core/config.h"

namespace faiss {
struct Index;
}

namespace sm {

// Search-time knobs; 0 leaves the one the index was built with.
struct AnnParams {
  int64_t nprobe = 0;     // IVF: inverted lists visited per query, 1..nlist
  int64_t ef_search = 0;  // HNSW: candidate list kept while walking the graph, 1..kMaxEfSearch
};

constexpr int64_t kMaxEfSearch = 1 << 16;

// Builds `factory` over the n rows of x (n, d), training it on them first
// where it needs training. Throws Error naming the factory string.
std::unique_ptr<faiss::Index> build_ann(const std::string& factory, int64_t d, int64_t n, const float* x);

// What `index` is, for messages and the manifest: "flat", "ivf" (with its
// number of lists), "hnsw" or "other" (no tunable search parameter).
struct AnnShape {
  std::string kind;
  int64_t nlist = 0;
};
AnnShape ann_shape(const faiss::Index& index);

// The parameters `index` searches with when none are given.
AnnParams default_ann_params(const faiss::Index& index);

// Makes `params` (where set) the ones `index` searches with by default.
void set_default_ann_params(faiss::Index& index, const AnnParams& params);

// `request` where set, `defaults` elsewhere.
AnnParams resolve_ann_params(const AnnParams& request, const AnnParams& defaults);

// Throws Error naming the parameter when it does not apply to `index` (nprobe
// on an index without inverted lists) or is out of range.
void check_ann_params(const faiss::Index& index, const AnnParams& params);

// {"nprobe": n, "efSearch": n}, with only the parameters `index` uses.
Json ann_params_json(const faiss::Index& index, const AnnParams& params);
AnnParams ann_params_from_json(const Json& j);

// The k best rows by inner product for each of the nq queries (row-major
// (nq, d)); labels are -1 where fewer than k were found.
void ann_search(const faiss::Index& index, const AnnParams& params, int64_t nq, const float* queries, int64_t k,
                float* distances, int64_t* labels);

}  // namespace sm
