#include "scenematch/text/parse_cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/error.h"
#include "scenematch/core/progress.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/text/caption_parser.h"

namespace sm {
namespace {

// Bumped whenever the parser's output or this layout changes, so caches from
// an older parser are rebuilt rather than trusted.
constexpr uint32_t kCacheVersion = 9;
constexpr char kMagic[8] = {'S', 'M', 'P', 'A', 'R', 'S', 'E', '\n'};

uint64_t captions_hash(const std::vector<std::string>& captions) {
  uint64_t h = fnv1a64(nullptr, 0);
  for (const auto& c : captions) {
    h = fnv1a64(c.data(), c.size(), h);
    h = fnv1a64("\n", 1, h);
  }
  return h;
}

class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) {}
  template <class T>
  void pod(T v) {
    out_.write(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& s) {
    pod<uint32_t>(static_cast<uint32_t>(s.size()));
    out_.write(s.data(), s.size());
  }
  void ints(const std::vector<int>& v) {
    pod<uint32_t>(static_cast<uint32_t>(v.size()));
    for (int x : v) pod<int32_t>(x);
  }
  void strs(const std::vector<std::string>& v) {
    pod<uint32_t>(static_cast<uint32_t>(v.size()));
    for (const auto& s : v) str(s);
  }

 private:
  std::ostream& out_;
};

// Reads what Writer wrote; any overrun or absurd value throws, so a truncated
// or corrupt cache is detected and rebuilt.
class Reader {
 public:
  explicit Reader(const std::string& bytes) : data_(bytes) {}
  template <class T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  uint32_t length() {
    uint32_t n = pod<uint32_t>();
    if (n > data_.size() - pos_) fail("length ", n, " past the end of the file");
    return n;
  }
  std::string str() {
    uint32_t n = length();
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::vector<int> ints() {
    std::vector<int> v(length());
    for (int& x : v) x = pod<int32_t>();
    return v;
  }
  std::vector<std::string> strs() {
    std::vector<std::string> v(length());
    for (auto& s : v) s = str();
    return v;
  }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  void need(size_t n) {
    if (n > data_.size() - pos_) fail("truncated at byte ", pos_);
  }
  const std::string& data_;
  size_t pos_ = 0;
};

void write_graph(Writer& w, const CaptionGraph& g) {
  w.str(g.quality);
  w.strs(g.tokens);
  w.pod<uint32_t>(static_cast<uint32_t>(g.pos.size()));
  for (Pos p : g.pos) w.pod<uint8_t>(static_cast<uint8_t>(p));
  w.pod<uint32_t>(static_cast<uint32_t>(g.edges.size()));
  for (auto [i, j] : g.edges) {
    w.pod<int32_t>(i);
    w.pod<int32_t>(j);
  }
  w.pod<uint32_t>(static_cast<uint32_t>(g.objects.size()));
  for (const auto& o : g.objects) {
    w.pod<int32_t>(o.token);
    w.str(o.word);
    w.strs(o.attributes);
    w.ints(o.attribute_tokens);
    w.pod<int32_t>(o.count);
  }
  w.pod<uint32_t>(static_cast<uint32_t>(g.relations.size()));
  for (const auto& r : g.relations) {
    w.str(r.subject);
    w.str(r.predicate);
    w.str(r.object);
    w.pod<int32_t>(r.subject_token);
    w.pod<int32_t>(r.object_token);
    w.ints(r.predicate_tokens);
  }
}

CaptionGraph read_graph(Reader& r) {
  CaptionGraph g;
  g.quality = r.str();
  g.tokens = r.strs();
  const int n = static_cast<int>(g.tokens.size());
  auto check_token = [n](int t) {
    if (t < -1 || t >= n) fail("token index ", t, " out of range (", n, " tokens)");
    return t;
  };
  g.pos.resize(r.length());
  if (g.pos.size() != g.tokens.size()) fail("tag count differs from token count");
  for (Pos& p : g.pos) {
    uint8_t v = r.pod<uint8_t>();
    if (v >= kNumPos) fail("bad POS id ", int(v));
    p = static_cast<Pos>(v);
  }
  g.edges.resize(r.length());
  for (auto& [i, j] : g.edges) {
    i = check_token(r.pod<int32_t>());
    j = check_token(r.pod<int32_t>());
  }
  g.objects.resize(r.length());
  for (auto& o : g.objects) {
    o.token = check_token(r.pod<int32_t>());
    o.word = r.str();
    o.attributes = r.strs();
    o.attribute_tokens = r.ints();
    for (int t : o.attribute_tokens) check_token(t);
    o.count = r.pod<int32_t>();
  }
  g.relations.resize(r.length());
  for (auto& rel : g.relations) {
    rel.subject = r.str();
    rel.predicate = r.str();
    rel.object = r.str();
    rel.subject_token = check_token(r.pod<int32_t>());
    rel.object_token = check_token(r.pod<int32_t>());
    rel.predicate_tokens = r.ints();
    for (int t : rel.predicate_tokens) check_token(t);
  }
  return g;
}

std::string cache_path(const std::string& caption_file) {
  struct stat st;
  if (::stat(caption_file.c_str(), &st) != 0) return "";
  return cat(caption_file, ".parse-", static_cast<long long>(st.st_size), "-", file_hash_hex(caption_file), ".bin");
}

}  // namespace

std::vector<CaptionGraph> read_parse_cache(const std::string& path, const std::vector<std::string>& captions) {
  const std::string bytes = read_file(path);
  Reader r(bytes);
  char magic[sizeof kMagic];
  for (char& c : magic) c = r.pod<char>();
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) fail("not a parse cache");
  if (uint32_t v = r.pod<uint32_t>(); v != kCacheVersion)
    fail("written by parser version ", v, ", this is version ", kCacheVersion);
  if (uint64_t n = r.pod<uint64_t>(); n != captions.size())
    fail("holds ", n, " captions, the caption file has ", captions.size());
  if (r.pod<uint64_t>() != captions_hash(captions)) fail("written for different caption text");
  std::vector<CaptionGraph> graphs(captions.size());
  for (auto& g : graphs) g = read_graph(r);
  if (!r.at_end()) fail("trailing bytes after the last caption");
  return graphs;
}

namespace {

// Caches written for earlier versions of the caption file are never read
// again (their key differs); they are removed when the new one is written.
void remove_stale_caches(const std::string& caption_file, const std::string& keep) {
  namespace fs = std::filesystem;
  const fs::path file(caption_file);
  const std::string prefix = file.filename().string() + ".parse-";
  std::error_code ec;
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.size() > 4 && name.compare(name.size() - 4, 4, ".bin") == 0 &&
        !fs::equivalent(entry.path(), keep, ec))
      fs::remove(entry.path(), ec);
  }
}

void save_cache(const std::string& path, const std::vector<std::string>& captions,
                const std::vector<CaptionGraph>& graphs) {
  write_file_atomic(path, [&](std::ostream& out) {
    Writer w(out);
    out.write(kMagic, sizeof kMagic);
    w.pod<uint32_t>(kCacheVersion);
    w.pod<uint64_t>(captions.size());
    w.pod<uint64_t>(captions_hash(captions));
    for (const auto& g : graphs) write_graph(w, g);
  });
}

std::vector<CaptionGraph> parse_all(const std::vector<std::string>& captions, int threads) {
  const int64_t n = static_cast<int64_t>(captions.size());
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, n / 64)));
  std::vector<CaptionGraph> graphs(n);
  // Workers take small chunks from a shared counter (long captions are much
  // slower than short ones); this thread only draws the progress bar.
  constexpr int64_t kChunk = 64;
  std::atomic<int64_t> next{0}, done{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      try {
        CaptionParser parser;
        for (int64_t begin; (begin = next.fetch_add(kChunk)) < n;) {
          const int64_t end = std::min(n, begin + kChunk);
          for (int64_t i = begin; i < end; ++i) graphs[i] = parser.parse(captions[i]);
          done += end - begin;
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        error = std::current_exception();
        next = n;
      }
    });
  Progress progress("parse captions", n, "captions");
  for (int64_t shown = 0; shown < n && !error;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const int64_t now = done.load();
    progress.step(now - shown);
    shown = now;
  }
  for (auto& w : workers) w.join();
  progress.finish();
  if (error) std::rethrow_exception(error);
  return graphs;
}

void report_quality(const std::vector<CaptionGraph>& graphs) {
  std::map<std::string, int64_t> counts;
  for (const auto& g : graphs) ++counts[g.quality];
  std::fprintf(stderr, "parsed %zu captions: %lld full, %lld partial, %lld tagger-only, %lld empty\n", graphs.size(),
               static_cast<long long>(counts["full"]), static_cast<long long>(counts["partial"]),
               static_cast<long long>(counts["tagger"]), static_cast<long long>(counts["empty"]));
}

}  // namespace

std::vector<CaptionGraph> caption_graphs(const std::vector<std::string>& captions, const std::string& caption_file,
                                         bool parse, int threads) {
  if (!parse) {
    std::vector<CaptionGraph> graphs;
    graphs.reserve(captions.size());
    for (const auto& c : captions) graphs.push_back(tokens_only(c));
    return graphs;
  }
  const std::string path = caption_file.empty() ? "" : cache_path(caption_file);
  if (!path.empty()) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      try {
        return read_parse_cache(path, captions);
      } catch (const Error& e) {
        std::fprintf(stderr, "%s: ignoring the parse cache (%s); parsing again\n", path.c_str(), e.what());
      }
    }
  }
  std::vector<CaptionGraph> graphs = parse_all(captions, threads);
  report_quality(graphs);
  if (!path.empty()) {
    try {
      save_cache(path, captions, graphs);
      remove_stale_caches(caption_file, path);
    } catch (const Error& e) {
      // A read-only data folder only costs the next run a re-parse.
      std::fprintf(stderr, "%s: cannot write the parse cache (%s)\n", path.c_str(), e.what());
    }
  }
  return graphs;
}

}  // namespace sm
