// Encoder outputs for a set of images or captions: named tensors whose first
// dimension indexes the items. Computed once per item and then scored in
// blocks, so nothing is ever encoded once per pair.
#pragma once
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace sm {

struct Encoding {
  std::map<std::string, torch::Tensor> parts;

  int64_t size() const;  // items (first dim); 0 when empty
  bool has(const std::string& key) const { return parts.count(key) > 0; }
  const torch::Tensor& at(const std::string& key) const;  // clear error when missing
  torch::Tensor& operator[](const std::string& key) { return parts[key]; }
  Encoding slice(int64_t begin, int64_t end) const;
  Encoding index(const torch::Tensor& idx) const;
  Encoding to(const torch::Device& device) const;
  // Concatenates along the item dim; parts with more dims are zero-padded (or
  // false-padded for bool masks) in every later dim to the largest size. Each
  // input part is released once copied, so a caller that moves its encodings
  // in holds the data about once, not two or three times.
  static Encoding cat(std::vector<Encoding> encodings);
};

}  // namespace sm
