#include "scenematch/data/vocab.h"

#include <algorithm>
#include <map>

#include "scenematch/core/atomic_file.h"

namespace sm {

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
  return it == index_.end() ? kUnk : it->second;
}

Json Vocab::to_json() const { return Json{{"words", words_}}; }

Vocab Vocab::from_json(const Json& j) {
  if (!j.is_object() || !j.contains("words") || !j["words"].is_array())
    fail("vocab: expected an object with a 'words' array");
  Vocab v;
  v.words_.clear();
  v.index_.clear();
  for (const auto& w : j["words"]) v.add(w.get<std::string>());
  if (v.size() < 2 || v.words_[0] != "<pad>" || v.words_[1] != "<unk>")
    fail("vocab: the first two words must be <pad> and <unk>");
  return v;
}

Vocab Vocab::load(const std::string& path) {
  Json j = Json::parse(read_file(path), nullptr, false);
  if (j.is_discarded()) fail(path, ": not valid JSON");
  try {
    return from_json(j);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

void Vocab::save(const std::string& path) const { write_file_atomic(path, to_json().dump()); }

}  // namespace sm
