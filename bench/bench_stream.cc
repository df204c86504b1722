// Streams a region-feature file through the memory map in batches of images
// and reports the read rate and the peak resident memory, which must stay near
// one batch however big the file is.
//   build/bench_stream [--gib=4] [--file=PATH] [--batch=128] [--out=bench/results/stream.json] [--remove]
// Writes a float32 (N, 36, 2048) file of about --gib GiB to --file unless it
// exists, then makes three passes through rows() + release(): "cold" after
// dropping the file from the page cache (reads come from disk), "warm" (the
// file is cached), and "warm_reused_buffer", which copies through row_ptr()
// into one buffer kept across batches (no fresh memory per batch).
#include <fcntl.h>
#include <sys/resource.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/error.h"
#include "scenematch/data/npy.h"

using namespace sm;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kRegions = 36, kFeatures = 2048;

int64_t peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

int64_t current_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

void write_features(const std::string& path, int64_t images) {
  std::fprintf(stderr, "writing %s: %lld images (%.2f GiB)\n", path.c_str(), static_cast<long long>(images),
               images * kRegions * kFeatures * 4.0 / (1 << 30));
  NpyWriter w(path, {images, kRegions, kFeatures});
  std::vector<float> row(kRegions * kFeatures);
  for (size_t k = 0; k < row.size(); ++k) row[k] = static_cast<float>(k % 97) / 97.0f;
  for (int64_t i = 0; i < images; ++i) {
    row[0] = static_cast<float>(i);  // each image differs, so a wrong row shows in the checksum
    w.append(row.data(), row.size());
  }
  w.close();
}

void drop_from_page_cache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(path, ": cannot open");
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// One pass over the file in batches. With reuse, rows are copied through
// row_ptr() into one buffer kept across batches; otherwise each batch is a new
// tensor from rows(), as the batcher does.
nlohmann::json stream(const NpyArray& a, int64_t batch, bool reuse) {
  auto start = std::chrono::steady_clock::now();
  double checksum = 0;
  int64_t max_current = 0;
  const int64_t row = a.row_elements();
  std::vector<float> buffer(reuse ? batch * row : 0);
  for (int64_t begin = 0; begin < a.rows(); begin += batch) {
    int64_t end = std::min(a.rows(), begin + batch);
    if (reuse) {
      for (int64_t i = begin; i < end; ++i) {
        std::memcpy(buffer.data() + (i - begin) * row, a.row_ptr(i), row * sizeof(float));
        checksum += buffer[(i - begin) * row];
      }
    } else {
      torch::Tensor rows = a.rows(begin, end);
      checksum += rows.select(2, 0).select(1, 0).to(torch::kDouble).sum().item<double>();  // first feature
    }
    a.release(begin, end);
    max_current = std::max(max_current, current_rss_kib());
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double bytes = static_cast<double>(a.rows()) * row * 4;
  double expected = static_cast<double>(a.rows()) * (a.rows() - 1) / 2;
  if (checksum != expected) fail(a.path(), ": checksum ", checksum, " differs from the expected ", expected);
  return {{"seconds", seconds},
          {"images_per_s", a.rows() / seconds},
          {"gib_per_s", bytes / seconds / (1 << 30)},
          {"max_rss_during_pass_mib", max_current / 1024.0}};
}

}  // namespace

int main(int argc, char** argv) {
  double gib = 4;
  int64_t batch = 128;
  std::string file = (fs::temp_directory_path() / "scenematch_stream_ims.npy").string();
  std::string out = "bench/results/stream.json";
  bool remove = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* key) -> const char* {
      std::string prefix = std::string(key) + "=";
      return arg.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("--gib"))
      gib = std::stod(v);
    else if (const char* v = value("--batch"))
      batch = std::stoll(v);
    else if (const char* v = value("--file"))
      file = v;
    else if (const char* v = value("--out"))
      out = v;
    else if (arg == "--remove")
      remove = true;
    else {
      std::fprintf(stderr,
                   "usage: bench_stream [--gib=4] [--file=PATH] [--batch=128] [--out=bench/results/stream.json] "
                   "[--remove]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  try {
    const int64_t images = static_cast<int64_t>(gib * (1ull << 30) / (kRegions * kFeatures * 4));
    if (images <= 0 || batch <= 0) fail("bench_stream: --gib and --batch must be positive");
    if (!fs::exists(file)) write_features(file, images);
    NpyArray a = NpyArray::open(file);
    if (a.dtype() != NpyDType::Float32 || a.row_elements() != kRegions * kFeatures)
      fail(file, ": exists but is not a float32 (N, 36, 2048) file; remove it or pass --file");

    const int64_t rss_before = current_rss_kib();
    drop_from_page_cache(file);
    nlohmann::json cold = stream(a, batch, false);
    nlohmann::json warm = stream(a, batch, false);
    nlohmann::json warm_reused = stream(a, batch, true);
    const double batch_mib = batch * kRegions * kFeatures * 4.0 / (1 << 20);
    nlohmann::json result = {
        {"file", file},
        {"file_gib", static_cast<double>(fs::file_size(file)) / (1 << 30)},
        {"images", a.rows()},
        {"batch", batch},
        {"batch_mib", batch_mib},
        {"rss_before_streaming_mib", rss_before / 1024.0},
        {"peak_rss_mib", peak_rss_kib() / 1024.0},
        {"cold", cold},
        {"warm", warm},
        {"warm_reused_buffer", warm_reused},
    };
    if (!fs::path(out).parent_path().empty()) fs::create_directories(fs::path(out).parent_path());
    write_file_atomic(out, result.dump(2) + "\n");
    std::printf("%s\n", result.dump(2).c_str());
    if (remove) fs::remove(file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
