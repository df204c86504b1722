// The authors' releases: NLTK tokens on the real caption files, the released
// vocabularies, and the token ids of the parity fixtures (../shared, next to
// the clone; skipped with a message where it is absent).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>

#include "scenematch/core/error.h"
#include "scenematch/data/dataset.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/data/vocab.h"

using namespace sm;

namespace {

std::string repo_root() {
  std::string f = __FILE__;  // <root>/tests/test_release.cc
  return f.substr(0, f.rfind("/tests/"));
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// ../shared/<sub> next to the clone, or "" where it is absent.
std::string shared(const std::string& sub) {
  std::string dir = repo_root() + "/../shared/" + sub;
  return exists(dir) ? dir : "";
}

#define REQUIRE_SHARED(var, sub)                                                  \
  const std::string var = shared(sub);                                            \
  if (var.empty())                                                                \
  GTEST_SKIP() << "../shared/" sub                                                \
                  " is absent next to this clone (CI has it; a user's clone may " \
                  "not)"

std::vector<std::string> split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST(Tokenizer, SplitsLikeNltk) {
  EXPECT_EQ(tokenize("A man's dog, running."),
            (std::vector<std::string>{"a", "man", "'s", "dog", ",", "running", "."}));
  // Already spaced possessives stay whole; inner periods and final ".." as NLTK.
  EXPECT_EQ(tokenize("a woman 's shoulders"), (std::vector<std::string>{"a", "woman", "'s", "shoulders"}));
  EXPECT_EQ(tokenize("A p.i.n.k. sign at the U.S.A. store.."),
            (std::vector<std::string>{"a", "p.i.n.k.", "sign", "at", "the", "u.s.a.", "store", ".."}));
  EXPECT_EQ(tokenize("a \"rock\" gesture"), (std::vector<std::string>{"a", "``", "rock", "``", "gesture"}));
  EXPECT_EQ(tokenize("they\xe2\x80\x99re 4' tall, cannot"),
            (std::vector<std::string>{"they", "\xe2\x80\x99", "re", "4", "'", "tall", ",", "can", "not"}));
}

// Every line of both real caption files: its own spacing, or NLTK's tokens
// where tests/data lists them (the lines NLTK re-splits: quotes, "..", "4'").
TEST(Tokenizer, MatchesNltkOnRealCaptionFiles) {
  REQUIRE_SHARED(real, "real");
  std::map<std::pair<std::string, int>, std::string> nltk;
  std::ifstream table(repo_root() + "/tests/data/nltk_tokens_of_real_captions.tsv");
  ASSERT_TRUE(table.good());
  for (std::string line; std::getline(table, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t a = line.find('\t'), b = line.find('\t', a + 1);
    nltk[{line.substr(0, a), std::stoi(line.substr(a + 1, b - a - 1))}] = line.substr(b + 1);
  }
  for (const std::string name : {"f30k_dev_caps.txt", "coco_dev_caps.txt"}) {
    std::vector<std::string> lines = read_caption_lines(real + "/" + name);
    int same = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      auto it = nltk.find({name, static_cast<int>(i + 1)});
      auto expected = split(it == nltk.end() ? lower(lines[i]) : it->second);
      if (tokenize(lines[i]) == expected)
        ++same;
      else
        ADD_FAILURE() << name << ":" << i + 1 << ": " << lines[i];
    }
    std::cout << name << ": " << same << " / " << lines.size() << " captions tokenised as NLTK does\n";
    EXPECT_EQ(same, static_cast<int>(lines.size()));
  }
}

TEST(Vocab, ReadsReleaseFormat) {
  Json j = {{"word2idx", {{"<pad>", 0}, {"<start>", 1}, {"<end>", 2}, {"<unk>", 3}, {"dog", 4}}},
            {"idx2word", {{"0", "<pad>"}, {"1", "<start>"}, {"2", "<end>"}, {"3", "<unk>"}, {"4", "dog"}}},
            {"idx", 5}};
  Vocab v = Vocab::from_release_json(j, "v.json");
  EXPECT_EQ(v.caption_ids({"dog", "cat"}), (std::vector<int64_t>{1, 4, 3, 2}));
  Vocab back = Vocab::from_json(v.to_json());  // as stored in a checkpoint
  EXPECT_EQ(back.caption_ids({"dog"}), (std::vector<int64_t>{1, 4, 2}));
  Json bad = j;
  bad["word2idx"]["<unk>"] = 5;
  EXPECT_THROW(Vocab::from_release_json(bad, "v.json"), Error);
  bad = j;
  bad["idx2word"]["4"] = "cat";
  try {
    Vocab::from_release_json(bad, "v.json");
    FAIL() << "a disagreeing idx2word was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("v.json: idx2word['4']"), std::string::npos) << e.what();
  }
}

TEST(Vocab, RealReleaseFiles) {
  REQUIRE_SHARED(real, "real");
  Vocab f30k = Vocab::load(real + "/f30k_precomp_vocab.json");
  EXPECT_EQ(f30k.size(), 8480);
  EXPECT_TRUE(f30k.wraps());
  EXPECT_EQ(f30k.unk_id(), 3);
  EXPECT_GT(Vocab::load(real + "/coco_precomp_vocab.json").size(), 10000);
}

// Token ids equal those the authors' loaders fed the models.
TEST(Vocab, FixtureTokenIds) {
  REQUIRE_SHARED(parity, "parity");
  for (const std::string fixture :
       {"gsmn_dense/f30k_precomp", "gsmn_sparse/f30k_precomp", "vse_infty_bigru/f30k/precomp"}) {
    const std::string root = parity + "/" + fixture.substr(0, fixture.find('/'));
    Vocab vocab = Vocab::load(root + "/vocab/f30k_precomp_vocab.json");
    std::vector<std::string> captions = read_caption_lines(parity + "/" + fixture + "/test_caps.txt");
    std::ifstream tokens(root + "/tokens.txt");
    for (size_t i = 0; i < captions.size(); ++i) {
      std::string line;
      ASSERT_TRUE(std::getline(tokens, line)) << root << "/tokens.txt ends at line " << i;
      std::vector<int64_t> expected;
      for (const auto& w : split(line)) expected.push_back(std::stoll(w));
      EXPECT_EQ(vocab.caption_ids(tokenize(captions[i])), expected) << fixture << " caption " << i;
    }
  }
}
