// GSMN's released dependency files (SPLIT_caps.json) as the sparse textual
// graph: read as the release's build_sparse_graph reads them, with a named
// error for every malformed file.
#include <gtest/gtest.h>

#include <fstream>

#include "scenematch/core/error.h"
#include "scenematch/data/given_dependencies.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/models/matcher.h"
#include "support/random_batches.h"
#include "support/temp_dir.h"

using namespace sm;

namespace {

std::string write(const sm::testing::TempDir& dir, const std::string& text) {
  const std::string path = dir.file("test_caps.json");
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& path, int64_t captions) {
  try {
    read_given_dependencies(path, captions);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(GivenDependencies, ReadAsTheReleaseBuildsItsGraph) {
  sm::testing::TempDir dir;
  // Caption 0 has 4 tokens: the first pair (ROOT) is skipped, positions are
  // 1-based, a repeated pair and a self-loop add nothing, a pair on <start>
  // (0) or past the tokens (5 = <end>) is dropped. Caption 1 has no pairs.
  const std::string path = write(dir, "[[[0, 2], [2, 1], [2, 4], [4, 3], [1, 2], [3, 3], [0, 4], [4, 5]], []]");
  std::vector<CaptionGraph> graphs = {tokens_only("a dog chases cats"), tokens_only("two birds")};
  graphs[1].edges = {{0, 1}};  // replaced, not merged
  const GivenEdgeCounts counts = apply_given_dependencies(path, graphs);
  using Edges = std::vector<std::pair<int, int>>;
  EXPECT_EQ(graphs[0].edges, (Edges{{0, 1}, {1, 3}, {2, 3}}));
  EXPECT_TRUE(graphs[1].edges.empty());
  EXPECT_EQ(counts.kept, 3);
  EXPECT_EQ(counts.dropped, 2);
}

TEST(GivenDependencies, MalformedFilesNameTheFileAndCaption) {
  sm::testing::TempDir dir;
  const std::string count = error_of(write(dir, "[[[0, 1]], [[0, 1]]]"), 3);
  EXPECT_NE(count.find("test_caps.json"), std::string::npos) << count;
  EXPECT_NE(count.find("2 captions, but the split has 3"), std::string::npos) << count;

  const std::string triple = error_of(write(dir, "[[[0, 1]], [[0, 1], [1, 2, 3]]]"), 2);
  EXPECT_NE(triple.find("caption 1: expected a pair of 2 positions, got 3"), std::string::npos) << triple;

  for (const char* bad : {"[[[0, \"x\"]]]", "[[[0, -1]]]", "[[[0, 1.5]]]", "[[{\"a\": 1}]]", "[[0, 1]]"}) {
    const std::string message = error_of(write(dir, bad), 1);
    EXPECT_NE(message.find("caption 0: expected"), std::string::npos) << bad << " -> " << message;
  }
  const std::string truncated = error_of(write(dir, "[[[0, 1], [1"), 1);
  EXPECT_NE(truncated.find("not valid JSON at byte"), std::string::npos) << truncated;
  const std::string missing = error_of(dir.file("absent.json"), 1);
  EXPECT_NE(missing.find("absent.json: cannot open"), std::string::npos) << missing;
}

TEST(GivenDependencies, GsmnAsksForThemWhenConfigured) {
  const Vocab vocab = sm::testing::numbered_vocab(16);
  Config c = matcher_preset("gsmn", "cpu");
  c["feature_dim"] = 8;
  c["embed_size"] = 16;
  c["graph"] = "sparse";
  EXPECT_FALSE(make_matcher("gsmn", c, vocab)->needs().given_dependencies);
  c["text_edges"] = "given";
  const DataNeeds needs = make_matcher("gsmn", c, vocab)->needs();
  EXPECT_TRUE(needs.parses && needs.given_dependencies);
  c["text_edges"] = "corenlp";
  try {
    make_matcher("gsmn", c, vocab);
    ADD_FAILURE() << "an unknown text_edges value was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("text_edges"), std::string::npos) << e.what();
  }
}

}  // namespace
