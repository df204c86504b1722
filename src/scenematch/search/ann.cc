#include "scenematch/search/ann.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_factory.h>

#include <mutex>
#include <shared_mutex>

namespace sm {
namespace {

// The index that holds the inverted lists or the graph, under any transform
// (OPQ, PCA) the factory string put in front of it.
const faiss::Index& searched(const faiss::Index& index) {
  const auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(&index);
  return pre ? *pre->index : index;
}

// FAISS 1.7.3's IndexHNSW ignores the efSearch of SearchParametersHNSW, so a
// search with another efSearch sets it on the index while no other search
// runs (exclusive), and searches with the index's own value share the lock.
std::shared_mutex hnsw_ef_mutex;

}  // namespace

std::unique_ptr<faiss::Index> build_ann(const std::string& factory, int64_t d, int64_t n, const float* x) {
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::index_factory(d, factory.c_str(), faiss::METRIC_INNER_PRODUCT));
  } catch (const faiss::FaissException& e) {
    fail("FAISS factory string '", factory, "' is not valid for ", d, "-d vectors: ", e.what());
  }
  try {
    if (!index->is_trained) index->train(n, x);
    index->add(n, x);
  } catch (const faiss::FaissException& e) {
    fail("FAISS could not build '", factory, "' over ", n,
         " vectors (an IVF index needs at least as many vectors as "
         "lists, PQ at least 256): ",
         e.what());
  }
  return index;
}

AnnShape ann_shape(const faiss::Index& index) {
  const faiss::Index& inner = searched(index);
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&inner)) return {"ivf", static_cast<int64_t>(ivf->nlist)};
  if (dynamic_cast<const faiss::IndexHNSW*>(&inner)) return {"hnsw", 0};
  if (dynamic_cast<const faiss::IndexFlat*>(&inner)) return {"flat", 0};
  return {"other", 0};
}

AnnParams default_ann_params(const faiss::Index& index) {
  const faiss::Index& inner = searched(index);
  AnnParams p;
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&inner)) p.nprobe = static_cast<int64_t>(ivf->nprobe);
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(&inner)) p.ef_search = hnsw->hnsw.efSearch;
  return p;
}

void set_default_ann_params(faiss::Index& index, const AnnParams& p) {
  faiss::Index& inner = const_cast<faiss::Index&>(searched(index));
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(&inner); ivf && p.nprobe > 0)
    ivf->nprobe = static_cast<size_t>(p.nprobe);
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(&inner); hnsw && p.ef_search > 0)
    hnsw->hnsw.efSearch = static_cast<int>(p.ef_search);
}

AnnParams resolve_ann_params(const AnnParams& request, const AnnParams& defaults) {
  return {request.nprobe > 0 ? request.nprobe : defaults.nprobe,
          request.ef_search > 0 ? request.ef_search : defaults.ef_search};
}

void check_ann_params(const faiss::Index& index, const AnnParams& p) {
  const AnnShape shape = ann_shape(index);
  if (p.nprobe != 0) {
    if (shape.kind != "ivf")
      fail("nprobe applies to IVF indexes; this first stage is ", shape.kind, " (build with --faiss IVF<n>,...)");
    if (p.nprobe < 1 || p.nprobe > shape.nlist)
      fail("nprobe must be between 1 and ", shape.nlist, " (the index's lists), got ", p.nprobe);
  }
  if (p.ef_search != 0) {
    if (shape.kind != "hnsw")
      fail("efSearch applies to HNSW indexes; this first stage is ", shape.kind, " (build with --faiss HNSW<m>)");
    if (p.ef_search < 1 || p.ef_search > kMaxEfSearch)
      fail("efSearch must be between 1 and ", kMaxEfSearch, ", got ", p.ef_search);
  }
}

Json ann_params_json(const faiss::Index& index, const AnnParams& p) {
  const std::string kind = ann_shape(index).kind;
  Json j = Json::object();
  if (kind == "ivf") j["nprobe"] = p.nprobe;
  if (kind == "hnsw") j["efSearch"] = p.ef_search;
  return j;
}

AnnParams ann_params_from_json(const Json& j) {
  AnnParams p;
  p.nprobe = j.value("nprobe", int64_t{0});
  p.ef_search = j.value("efSearch", int64_t{0});
  return p;
}

void ann_search(const faiss::Index& index, const AnnParams& p, int64_t nq, const float* queries, int64_t k,
                float* distances, int64_t* labels) {
  static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t));
  const faiss::Index& inner = searched(index);
  faiss::SearchParametersIVF ivf;
  faiss::SearchParametersPreTransform wrapped;
  faiss::SearchParameters* params = nullptr;
  if (p.nprobe > 0 && dynamic_cast<const faiss::IndexIVF*>(&inner)) {
    ivf.nprobe = static_cast<size_t>(p.nprobe);
    params = &ivf;
  }
  if (params && &inner != &index) {
    wrapped.index_params = params;
    params = &wrapped;
  }
  auto run = [&] {
    try {
      index.search(nq, queries, k, distances, reinterpret_cast<faiss::Index::idx_t*>(labels), params);
    } catch (const faiss::FaissException& e) {
      fail("FAISS search failed: ", e.what());
    }
  };
  auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(const_cast<faiss::Index*>(&inner));
  if (!hnsw) return run();
  std::shared_lock<std::shared_mutex> shared(hnsw_ef_mutex);
  if (p.ef_search <= 0 || hnsw->hnsw.efSearch == p.ef_search) return run();
  shared.unlock();
  std::unique_lock<std::shared_mutex> exclusive(hnsw_ef_mutex);
  const int own = hnsw->hnsw.efSearch;
  hnsw->hnsw.efSearch = static_cast<int>(p.ef_search);
  try {
    run();
  } catch (...) {
    hnsw->hnsw.efSearch = own;
    throw;
  }
  hnsw->hnsw.efSearch = own;
}

}  // namespace sm
