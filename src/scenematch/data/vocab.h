// Word vocabulary built from the training captions with a minimum count.
// Id 0 is <pad>, 1 is <unk>; saved as vocab.json next to checkpoints.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "scenematch/core/config.h"

namespace sm {

class Vocab {
 public:
  static constexpr int64_t kPad = 0, kUnk = 1;
  Vocab();
  static Vocab build(const std::vector<std::vector<std::string>>& tokenized, int min_count);
  static Vocab from_json(const Json& j);
  static Vocab load(const std::string& path);
  Json to_json() const;
  void save(const std::string& path) const;

  int64_t id(const std::string& word) const;  // kUnk when absent
  bool contains(const std::string& word) const { return index_.count(word) > 0; }
  const std::string& word(int64_t id) const { return words_.at(id); }
  int64_t size() const { return static_cast<int64_t>(words_.size()); }

 private:
  void add(const std::string& word);
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> index_;
};

}  // namespace sm
