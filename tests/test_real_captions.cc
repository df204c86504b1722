// The caption parser on real Flickr30K and COCO captions: precision and recall
// against a hand-labelled set (tests/data/real_captions_labelled.txt), and
// every caption of the real dev files (../shared/real, when present) parsed.
// SM_SHOW_MISSES=1 prints each labelled caption's missed and spurious items.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "scenematch/core/progress.h"
#include "scenematch/text/caption_parser.h"
#include "scenematch/text/parse_cache.h"

namespace sm {
namespace {

namespace fs = std::filesystem;

// __FILE__ is relative to the build folder, where ctest runs the tests.
const fs::path kRepo = fs::weakly_canonical(fs::absolute(__FILE__)).parent_path().parent_path();

// Floors at issue 23's 0.90 target or just under what the parser reaches on
// the labelled set, whichever is higher (measured values in docs/parsing.md).
constexpr double kTripletPrecisionFloor = 0.93;
constexpr double kTripletRecallFloor = 0.90;
constexpr double kAttributePrecisionFloor = 0.94;
constexpr double kAttributeRecallFloor = 0.95;

struct Labelled {
  std::string where, caption;
  std::vector<std::string> objects;                 // "N*noun:adj,adj"
  std::vector<std::vector<std::string>> relations;  // alternatives of one triplet
};

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(' '), b = s.find_last_not_of(' ');
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t p; (p = s.find(sep, at)) != std::string::npos; at = p + sep.size())
    out.push_back(trim(s.substr(at, p - at)));
  out.push_back(trim(s.substr(at)));
  out.erase(std::remove(out.begin(), out.end(), ""), out.end());
  return out;
}

std::vector<Labelled> read_labelled(const fs::path& path) {
  std::ifstream in(path);
  if (!in) ADD_FAILURE() << "cannot read " << path;
  std::vector<Labelled> out;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    const std::string where = path.filename().string() + ":" + std::to_string(number);
    if (line.empty() || line[0] == '#') continue;
    if (line.size() == 1) line += ' ';  // "r" alone: no relations
    if (line[1] != ' ') {
      ADD_FAILURE() << where << ": expected '@ ', 'o ' or 'r ' and a space";
      continue;
    }
    const std::string body = line.substr(2);
    if (line[0] == '@') {
      const size_t space = body.find(' ');
      out.push_back({body.substr(0, space), space == std::string::npos ? "" : body.substr(space + 1), {}, {}});
      continue;
    }
    if (out.empty()) {
      ADD_FAILURE() << where << ": labels before the first '@' caption line";
      continue;
    }
    if (line[0] == 'o') {
      out.back().objects = split(body, ";");
    } else if (line[0] == 'r') {
      for (const auto& item : split(body, ";")) {
        auto alternatives = split(item, "~");
        for (const auto& a : alternatives)
          if (split(a, "|").size() != 3) ADD_FAILURE() << where << ": '" << a << "' is not subject|predicate|object";
        out.back().relations.push_back(alternatives);
      }
    } else {
      ADD_FAILURE() << where << ": unknown line kind '" << line[0] << "'";
    }
  }
  return out;
}

struct Score {
  size_t truth = 0, predicted = 0, matched_truth = 0, matched_predicted = 0;
  double precision() const { return predicted ? double(matched_predicted) / predicted : 1.0; }
  double recall() const { return truth ? double(matched_truth) / truth : 1.0; }
};

TEST(RealCaptions, LabelledSetPrecisionAndRecall) {
  const auto labelled = read_labelled(kRepo / "tests/data/real_captions_labelled.txt");
  ASSERT_GE(labelled.size(), 150u);
  std::set<std::string> sources;
  for (const auto& l : labelled) sources.insert(l.where.substr(0, l.where.find(':')));
  EXPECT_EQ(sources, (std::set<std::string>{"coco", "f30k"}));

  const bool show = std::getenv("SM_SHOW_MISSES") != nullptr;
  CaptionParser parser;
  Score triplets, attributes;
  size_t counted = 0, counts_right = 0;
  for (const auto& l : labelled) {
    const CaptionGraph g = parser.parse(l.caption);
    std::ostringstream report;

    // multisets: "a black man and a white man ... are standing" states the
    // same triplet twice, and a parser that says it once has missed one
    std::multiset<std::string> got, used;
    for (const auto& r : g.relations) got.insert(r.subject + "|" + r.predicate + "|" + r.object);
    for (const auto& alternatives : l.relations) {
      auto hit = std::find_if(alternatives.begin(), alternatives.end(),
                              [&](const std::string& a) { return got.count(a) > used.count(a); });
      if (hit != alternatives.end()) {
        used.insert(*hit);
      } else {
        report << "  missed " << alternatives[0] << (alternatives.size() > 1 ? " ~ ..." : "") << "\n";
      }
    }
    triplets.truth += l.relations.size();
    triplets.matched_truth += used.size();
    triplets.predicted += got.size();
    triplets.matched_predicted += used.size();
    for (auto t = got.begin(); t != got.end(); t = got.upper_bound(*t))
      for (size_t k = used.count(*t); k < got.count(*t); ++k) report << "  spurious " << *t << "\n";

    std::multiset<std::string> want_attributes, got_attributes;
    std::map<std::string, int> want_counts;
    for (const auto& spec : l.objects) {
      std::string noun = spec;
      if (auto star = noun.find('*'); star != std::string::npos) {
        want_counts[noun.substr(star + 1, noun.find(':') - star - 1)] = std::stoi(noun.substr(0, star));
        noun = noun.substr(star + 1);
      }
      if (auto colon = noun.find(':'); colon != std::string::npos) {
        for (const auto& a : split(noun.substr(colon + 1), ","))
          want_attributes.insert(noun.substr(0, colon) + ":" + a);
      }
    }
    for (const auto& o : g.objects) {
      for (const auto& a : o.attributes) got_attributes.insert(o.word + ":" + a);
      if (auto it = want_counts.find(o.word); it != want_counts.end()) {
        ++counted;
        counts_right += o.count == it->second;
        want_counts.erase(it);
      }
    }
    attributes.truth += want_attributes.size();
    attributes.predicted += got_attributes.size();
    std::multiset<std::string> unmatched = got_attributes;
    for (const auto& a : want_attributes) {
      if (auto it = unmatched.find(a); it != unmatched.end()) {
        unmatched.erase(it);
        ++attributes.matched_truth;
        ++attributes.matched_predicted;
      } else {
        report << "  missed attribute " << a << "\n";
      }
    }
    for (const auto& a : unmatched) report << "  spurious attribute " << a << "\n";
    if (show && !report.str().empty())
      std::printf("%s %s [%s]\n%s", l.where.c_str(), l.caption.c_str(), g.quality.c_str(), report.str().c_str());
  }
  std::printf("%zu labelled real captions\n", labelled.size());
  std::printf("triplets:   %zu labelled, %zu predicted, %zu matched: precision %.3f, recall %.3f\n", triplets.truth,
              triplets.predicted, triplets.matched_predicted, triplets.precision(), triplets.recall());
  std::printf("attributes: %zu labelled, %zu predicted, %zu matched: precision %.3f, recall %.3f\n", attributes.truth,
              attributes.predicted, attributes.matched_predicted, attributes.precision(), attributes.recall());
  std::printf("counts:     %zu of %zu stated counts right\n", counts_right, counted);
  EXPECT_GE(triplets.precision(), kTripletPrecisionFloor);
  EXPECT_GE(triplets.recall(), kTripletRecallFloor);
  EXPECT_GE(attributes.precision(), kAttributePrecisionFloor);
  EXPECT_GE(attributes.recall(), kAttributeRecallFloor);
}

TEST(RealCaptions, EveryDevCaptionParses) {
  const fs::path real = kRepo.parent_path() / "shared" / "real";
  size_t lines = 0, with_relation = 0;
  std::map<std::string, size_t> quality;
  for (const char* name : {"f30k_dev_caps.txt", "coco_dev_caps.txt"}) {
    const fs::path path = real / name;
    if (!fs::exists(path)) GTEST_SKIP() << path << " is absent: the real caption files are not on this machine";
    std::ifstream in(path);
    std::vector<std::string> captions;
    for (std::string line; std::getline(in, line);) captions.push_back(line);
    Progress::set_enabled(false);
    const auto graphs = caption_graphs(captions, "", true, 2);
    ASSERT_EQ(graphs.size(), captions.size()) << path;
    size_t file_relations = 0;
    for (size_t i = 0; i < graphs.size(); ++i) {
      EXPECT_NE(graphs[i].quality, "empty") << path.string() << ":" << i + 1 << ": " << captions[i];
      ++quality[graphs[i].quality];
      file_relations += !graphs[i].relations.empty();
    }
    std::printf("%s: %zu captions, %.1f%% with at least one relation\n", name, captions.size(),
                100.0 * file_relations / captions.size());
    lines += captions.size();
    with_relation += file_relations;
  }
  std::printf("all: %zu captions, %zu (%.1f%%) with at least one relation; %zu full, %zu partial, %zu tagger-only\n",
              lines, with_relation, 100.0 * with_relation / lines, quality["full"], quality["partial"],
              quality["tagger"]);
  EXPECT_EQ(quality["full"] + quality["partial"] + quality["tagger"], lines);
}

}  // namespace
}  // namespace sm
