#include "scenematch/data/vocab.h"

#include <algorithm>
#include <map>

#include "scenematch/core/atomic_file.h"

namespace sm {
namespace {

// The reserved words of the release format, in their fixed ids.
const char* const kReleaseSpecials[] = {"<pad>", "<start>", "<end>", "<unk>"};

}  // namespace

Vocab::Vocab() {
  add("<pad>");
  add("<unk>");
}

void Vocab::add(const std::string& word) {
  if (index_.count(word)) return;
  index_[word] = static_cast<int64_t>(words_.size());
  words_.push_back(word);
}

Vocab Vocab::build(const std::vector<std::vector<std::string>>& tokenized, int min_count) {
  std::map<std::string, int64_t> counts;  // ordered: ids do not depend on hash order
  for (const auto& caption : tokenized)
    for (const auto& w : caption) ++counts[w];
  Vocab v;
  for (const auto& [w, c] : counts)
    if (c >= min_count) v.add(w);
  return v;
}

int64_t Vocab::id(const std::string& word) const {
  auto it = index_.find(word);
  return it == index_.end() ? unk_ : it->second;
}

std::vector<int64_t> Vocab::caption_ids(const std::vector<std::string>& tokens) const {
  std::vector<int64_t> ids;
  ids.reserve(tokens.size() + 2);
  if (wraps()) ids.push_back(start_);
  for (const auto& w : tokens) ids.push_back(id(w));
  if (wraps()) ids.push_back(end_);
  return ids;
}

Json Vocab::to_json() const {
  Json j{{"words", words_}};
  if (wraps()) j["format"] = "release";
  return j;
}

Vocab Vocab::from_json(const Json& j) {
  if (!j.is_object() || !j.contains("words") || !j["words"].is_array())
    fail("vocab: expected an object with a 'words' array");
  Vocab v;
  v.words_.clear();
  v.index_.clear();
  const Json& words = j["words"];
  for (size_t i = 0; i < words.size(); ++i) {
    if (!words[i].is_string()) fail("vocab: words[", i, "] is ", words[i].type_name(), ", not a string");
    v.add(words[i].get<std::string>());
  }
  if (j.contains("format") && j["format"] == "release") {
    for (int64_t i = 0; i < 4; ++i)
      if (v.size() <= i || v.words_[i] != kReleaseSpecials[i])
        fail("vocab: a release vocabulary must start with <pad> <start> <end> <unk>");
    v.start_ = 1, v.end_ = 2, v.unk_ = 3;
    return v;
  }
  if (v.size() < 2 || v.words_[0] != "<pad>" || v.words_[1] != "<unk>")
    fail("vocab: the first two words must be <pad> and <unk>");
  return v;
}

Vocab Vocab::from_release_json(const Json& j, const std::string& source) {
  auto word2idx = j.find("word2idx");
  if (word2idx == j.end() || !word2idx->is_object()) fail(source, ": missing the 'word2idx' object");
  const int64_t n = static_cast<int64_t>(word2idx->size());
  if (j.contains("idx") && (!j["idx"].is_number_integer() || j["idx"].get<int64_t>() != n))
    fail(source, ": 'idx' (", j["idx"].dump(), ") is not the number of words in 'word2idx' (", n, ")");
  std::vector<std::string> words(n);
  for (const auto& [word, id] : word2idx->items()) {
    if (!id.is_number_integer()) fail(source, ": word2idx['", word, "'] is not an integer");
    int64_t i = id.get<int64_t>();
    if (i < 0 || i >= n || !words[i].empty())
      fail(source, ": word2idx['", word, "'] = ", i, " is out of range or taken");
    words[i] = word;
  }
  for (int64_t i = 0; i < 4; ++i)
    if (n <= i || words[i] != kReleaseSpecials[i])
      fail(source, ": id ", i, " must be ", kReleaseSpecials[i], " (the release's reserved words)");
  if (auto idx2word = j.find("idx2word"); idx2word != j.end()) {
    if (!idx2word->is_object() || static_cast<int64_t>(idx2word->size()) != n)
      fail(source, ": 'idx2word' does not have the ", n, " entries of 'word2idx'");
    for (const auto& [key, word] : idx2word->items()) {
      int64_t i = -1;
      try {
        i = std::stoll(key);
      } catch (const std::exception&) {
      }
      if (i < 0 || i >= n || !word.is_string() || word.get<std::string>() != words[i])
        fail(source, ": idx2word['", key, "'] disagrees with word2idx");
    }
  }
  return from_json(Json{{"words", words}, {"format", "release"}});
}

Vocab Vocab::load(const std::string& path) {
  Json j = Json::parse(read_file(path), nullptr, false);
  if (j.is_discarded()) fail(path, ": not valid JSON");
  if (j.is_object() && j.contains("word2idx")) return from_release_json(j, path);
  try {
    return from_json(j);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

void Vocab::save(const std::string& path) const { write_file_atomic(path, to_json().dump()); }

}  // namespace sm
