#include "scenematch/data/given_dependencies.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "scenematch/core/error.h"

namespace sm {

namespace {

using nlohmann::json;

// Streams [[[g, d], ...], ...] into one DependencyPairs per caption; on the
// first unexpected token it records what was expected and stops.
class DependencyReader : public nlohmann::json_sax<json> {
 public:
  std::vector<DependencyPairs> captions;
  std::string problem;  // empty while the file reads well

  bool start_array(std::size_t) override {
    if (depth_ == 3) return wrong("a number, not a list, inside a pair");
    if (depth_ == 1) captions.emplace_back();
    if (depth_ == 2) pair_.clear();
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    if (depth_ == 2) {
      if (pair_.size() != 2) return wrong("a pair of 2 positions, got ", pair_.size(), " numbers");
      captions.back().emplace_back(pair_[0], pair_[1]);
    }
    return true;
  }
  bool number_unsigned(number_unsigned_t value) override { return position(static_cast<int64_t>(value)); }
  bool number_integer(number_integer_t value) override { return position(value); }
  bool number_float(number_float_t, const string_t&) override { return wrong("an integer position, not a fraction"); }
  bool null() override { return wrong("a position, not null"); }
  bool boolean(bool) override { return wrong("a position, not true/false"); }
  bool string(string_t&) override { return wrong("a position, not a string"); }
  bool binary(binary_t&) override { return wrong("a position, not binary data"); }
  bool start_object(std::size_t) override { return wrong("a list, not an object"); }
  bool key(string_t&) override { return wrong("a list, not an object"); }
  bool end_object() override { return wrong("a list, not an object"); }
  bool parse_error(std::size_t offset, const std::string&, const nlohmann::detail::exception& e) override {
    problem = cat("not valid JSON at byte ", offset, " (", e.what(), ")");
    return false;
  }

 private:
  bool position(int64_t value) {
    if (depth_ != 3) return wrong("a list of [governor, dependent] pairs, not a bare number");
    if (value < 0) return wrong("non-negative word positions, got ", value);
    pair_.push_back(value);
    return true;
  }
  template <class... Args>
  bool wrong(const Args&... args) {
    problem =
        captions.empty() ? cat("expected ", args...) : cat("caption ", captions.size() - 1, ": expected ", args...);
    return false;
  }

  int depth_ = 0;
  std::vector<int64_t> pair_;
};

}  // namespace

std::vector<DependencyPairs> read_given_dependencies(const std::string& path, int64_t captions) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(path, ": cannot open (GSMN's dependency pairs; train without --set text_edges=given to use our parser)");
  DependencyReader reader;
  nlohmann::json::sax_parse(in, &reader);
  if (!reader.problem.empty()) fail(path, ": ", reader.problem);
  if (static_cast<int64_t>(reader.captions.size()) != captions)
    fail(path, ": holds dependency pairs for ", reader.captions.size(), " captions, but the split has ", captions,
         " (one list per line of the caption file, in order)");
  return std::move(reader.captions);
}

GivenEdgeCounts apply_given_dependencies(const std::string& path, std::vector<CaptionGraph>& graphs) {
  const auto given = read_given_dependencies(path, static_cast<int64_t>(graphs.size()));
  GivenEdgeCounts counts;
  for (size_t c = 0; c < graphs.size(); ++c) {
    CaptionGraph& g = graphs[c];
    const int64_t tokens = static_cast<int64_t>(g.tokens.size());
    g.edges.clear();
    // The release skips the first pair (the ROOT relation) and indexes its
    // <start>-wrapped id sequence with the positions, so position p is token p - 1.
    for (size_t k = 1; k < given[c].size(); ++k) {
      const auto [governor, dependent] = given[c][k];
      if (governor == dependent) continue;  // the release's own self-loop, which every node has anyway
      if (governor == 0 || dependent == 0 || governor > tokens || dependent > tokens) {
        ++counts.dropped;
        continue;
      }
      g.edges.emplace_back(std::min(governor, dependent) - 1, std::max(governor, dependent) - 1);
    }
    std::sort(g.edges.begin(), g.edges.end());
    g.edges.erase(std::unique(g.edges.begin(), g.edges.end()), g.edges.end());
    counts.kept += static_cast<int64_t>(g.edges.size());
  }
  return counts;
}

}  // namespace sm
