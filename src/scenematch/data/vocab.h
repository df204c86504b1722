// Word vocabulary. Two kinds:
// - built by the trainer from the training captions with a minimum count:
//   id 0 is <pad>, 1 is <unk>; saved as vocab.json next to checkpoints;
// - the SCAN/GSMN/VSE∞ release file ({"word2idx", "idx2word", "idx"}, with
//   <pad> <start> <end> <unk> = 0..3): captions are wrapped in <start>/<end>
//   as those releases' loaders do, and unknown words map to <unk> = 3.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "scenematch/core/config.h"

namespace sm {

class Vocab {
 public:
  static constexpr int64_t kPad = 0;
  Vocab();
  static Vocab build(const std::vector<std::vector<std::string>>& tokenized, int min_count);
  static Vocab from_json(const Json& j);
  // The SCAN-family release format; errors name `source`.
  static Vocab from_release_json(const Json& j, const std::string& source);
  // Either format, told apart by its keys.
  static Vocab load(const std::string& path);
  Json to_json() const;
  void save(const std::string& path) const;

  int64_t id(const std::string& word) const;  // unk_id() when absent
  // Ids of a tokenised caption as the model sees it (wrapped when wraps()).
  std::vector<int64_t> caption_ids(const std::vector<std::string>& tokens) const;
  bool contains(const std::string& word) const { return index_.count(word) > 0; }
  const std::string& word(int64_t id) const { return words_.at(id); }
  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  int64_t unk_id() const { return unk_; }
  bool wraps() const { return start_ >= 0; }  // captions get <start> ... <end>
  // Appends a word (VSE∞ adds <mask> to the released vocabulary).
  void add(const std::string& word);

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> index_;
  int64_t unk_ = 1, start_ = -1, end_ = -1;
};

}  // namespace sm
