// The first stage alone: FAISS indexes over random galleries of unit vectors,
// per-query latency (p50/p99, one query at a time) and recall@10 against
// exact search, for each factory string and search parameter. Two galleries:
// "uniform" (i.i.d. Gaussian directions, the hardest case: no structure for
// IVF or HNSW to use) and "clustered" (a mixture of 1,000 Gaussians, queries
// drawn from the same mixture, closer to learnt embeddings). Results go to
// bench/results/ann.json.
//
//   build/bench_ann [--sizes 100000] [--dim 1024] [--queries 200] [--data uniform,clustered]
//                   [--kinds flat,ivf,ivf-sq,ivf-pq,hnsw] [--nlist 1024] [--threads 2]
//                   [--out bench/results/ann.json]
#include <faiss/Index.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/runtime.h"
#include "scenematch/search/ann.h"

using namespace sm;

namespace {

constexpr int64_t kRecallAt = 10;

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> items;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

// n unit vectors of `kind`; `centres` fixes the clustered mixture so that
// gallery and queries share it.
torch::Tensor unit_vectors(const std::string& kind, int64_t n, int64_t d, const torch::Tensor& centres) {
  torch::Tensor x = torch::randn({n, d});
  if (kind == "clustered") x += centres.index({torch::randint(centres.size(0), {n}, torch::kLong)});
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1)).contiguous();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Setting {
  std::string factory;
  AnnParams params;
};

// The factory strings of `kinds` (flat, ivf, ivf-sq, ivf-pq, hnsw) for IVF
// indexes of `lists` lists, each with the search parameters to sweep.
std::vector<Setting> settings(int64_t lists, const std::vector<std::string>& kinds) {
  const std::string nlist = std::to_string(lists);
  std::vector<Setting> s;
  for (const std::string& kind : kinds) {
    if (kind == "flat") {
      s.push_back({"Flat", {}});
    } else if (kind == "ivf") {
      for (int64_t nprobe : {8, 16, 32, 64, 128}) s.push_back({"IVF" + nlist + ",Flat", {nprobe, 0}});
    } else if (kind == "ivf-sq") {
      for (int64_t nprobe : {16, 64}) s.push_back({"IVF" + nlist + ",SQfp16", {nprobe, 0}});
    } else if (kind == "ivf-pq") {
      for (int64_t nprobe : {16, 64}) s.push_back({"IVF" + nlist + ",PQ128", {nprobe, 0}});
    } else if (kind == "hnsw") {
      for (int64_t ef : {16, 64, 128, 256}) s.push_back({"HNSW32", {0, ef}});
    } else {
      fail("bench_ann: unknown kind '", kind, "' (flat, ivf, ivf-sq, ivf-pq, hnsw)");
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  ensure_blas_kernels(argc, argv);
  std::string sizes_arg = "100000", data_arg = "uniform,clustered", kinds_arg = "flat,ivf,ivf-sq,ivf-pq,hnsw";
  std::string out = "bench/results/ann.json";
  int64_t dim = 1024, queries = 200, nlist = 1024;
  int threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--sizes")
      sizes_arg = value;
    else if (flag == "--dim")
      dim = std::stoll(value);
    else if (flag == "--queries")
      queries = std::stoll(value);
    else if (flag == "--data")
      data_arg = value;
    else if (flag == "--nlist")
      nlist = std::stoll(value);
    else if (flag == "--kinds")
      kinds_arg = value;
    else if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--out")
      out = value;
    else {
      std::fprintf(stderr, "bench_ann: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  set_threads(threads);
  torch::manual_seed(0);
  const torch::Tensor centres = torch::randn({1000, dim});
  Json rows = Json::array();
  std::printf("%-10s %8s %-16s %-14s %9s %9s %9s %10s\n", "data", "items", "factory", "params", "p50 ms", "p99 ms",
              "recall@10", "build s");
  for (const std::string& data : split_list(data_arg)) {
    for (const std::string& size : split_list(sizes_arg)) {
      const int64_t n = std::stoll(size);
      const torch::Tensor gallery = unit_vectors(data, n, dim, centres);
      const torch::Tensor query = unit_vectors(data, queries, dim, centres);
      const torch::Tensor exact = std::get<1>(query.matmul(gallery.t()).topk(kRecallAt, 1)).contiguous();
      std::string built_factory;
      std::unique_ptr<faiss::Index> index;
      double build_s = 0;
      for (const Setting& s : settings(nlist, split_list(kinds_arg))) {
        if (s.factory != built_factory) {
          index.reset();
          const auto start = std::chrono::steady_clock::now();
          index = build_ann(s.factory, dim, n, gallery.data_ptr<float>());
          build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          built_factory = s.factory;
        }
        std::vector<double> ms;
        double recall = 0;
        std::vector<float> distances(kRecallAt);
        std::vector<int64_t> labels(kRecallAt);
        for (int64_t q = 0; q < queries; ++q) {
          const auto start = std::chrono::steady_clock::now();
          ann_search(*index, s.params, 1, query[q].data_ptr<float>(), kRecallAt, distances.data(), labels.data());
          ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
          const std::set<int64_t> found(labels.begin(), labels.end());
          for (int64_t j = 0; j < kRecallAt; ++j) recall += found.count(exact[q][j].item<int64_t>());
        }
        recall /= static_cast<double>(queries * kRecallAt);
        const Json params = ann_params_json(*index, s.params);
        const Json row = {{"data", data},
                          {"items", n},
                          {"dim", dim},
                          {"factory", s.factory},
                          {"params", params},
                          {"queries", queries},
                          {"p50_ms", percentile(ms, 0.5)},
                          {"p99_ms", percentile(ms, 0.99)},
                          {"recall_at_10", recall},
                          {"build_s", build_s},
                          {"threads", threads}};
        std::printf("%-10s %8lld %-16s %-14s %9.3f %9.3f %9.3f %10.1f\n", data.c_str(), static_cast<long long>(n),
                    s.factory.c_str(), params.dump().c_str(), row["p50_ms"].get<double>(), row["p99_ms"].get<double>(),
                    recall, build_s);
        std::fflush(stdout);
        rows.push_back(row);
      }
    }
  }
  write_file_atomic(out, Json{{"benchmark", "ann"}, {"rows", rows}}.dump(2) + "\n");
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
