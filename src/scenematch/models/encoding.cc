#include "scenematch/models/encoding.h"

#include <torch/torch.h>

#include "scenematch/core/error.h"

namespace sm {

int64_t Encoding::size() const { return parts.empty() ? 0 : parts.begin()->second.size(0); }

const torch::Tensor& Encoding::at(const std::string& key) const {
  auto it = parts.find(key);
  if (it == parts.end()) fail("encoding has no part '", key, "' (was it made by another model?)");
  return it->second;
}

Encoding Encoding::slice(int64_t begin, int64_t end) const {
  Encoding out;
  for (const auto& [k, t] : parts) out.parts[k] = t.slice(0, begin, end);
  return out;
}

Encoding Encoding::index(const torch::Tensor& idx) const {
  Encoding out;
  for (const auto& [k, t] : parts) out.parts[k] = t.index_select(0, idx.to(t.device()));
  return out;
}

Encoding Encoding::to(const torch::Device& device) const {
  Encoding out;
  for (const auto& [k, t] : parts) out.parts[k] = t.to(device);
  return out;
}

Encoding Encoding::cat(const std::vector<Encoding>& encodings) {
  Encoding out;
  if (encodings.empty()) return out;
  if (encodings.size() == 1) return encodings[0];
  for (const auto& [key, first] : encodings[0].parts) {
    std::vector<int64_t> max_shape = first.sizes().vec();
    for (const auto& e : encodings) {
      const auto& t = e.at(key);
      if (t.dim() != first.dim()) fail("Encoding::cat: part '", key, "' has different ranks");
      for (int64_t d = 1; d < t.dim(); ++d) max_shape[d] = std::max(max_shape[d], t.size(d));
    }
    std::vector<torch::Tensor> padded;
    for (const auto& e : encodings) {
      torch::Tensor t = e.at(key);
      std::vector<int64_t> pad;  // torch pads from the last dim backwards
      bool needs = false;
      for (int64_t d = t.dim() - 1; d >= 1; --d) {
        pad.push_back(0);
        pad.push_back(max_shape[d] - t.size(d));
        needs |= max_shape[d] != t.size(d);
      }
      if (needs) {
        bool is_bool = t.scalar_type() == torch::kBool;
        torch::Tensor p = torch::constant_pad_nd(is_bool ? t.to(torch::kUInt8) : t, pad, 0);
        t = is_bool ? p.to(torch::kBool) : p;
      }
      padded.push_back(t);
    }
    out.parts[key] = torch::cat(padded, 0);
  }
  return out;
}

}  // namespace sm
