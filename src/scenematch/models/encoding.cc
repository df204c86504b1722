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

Encoding Encoding::cat(std::vector<Encoding> encodings) {
  Encoding out;
  if (encodings.empty()) return out;
  if (encodings.size() == 1) return std::move(encodings[0]);
  std::vector<std::string> keys;
  for (const auto& [key, _] : encodings[0].parts) keys.push_back(key);
  for (const auto& key : keys) {
    const torch::Tensor first = encodings[0].at(key);
    std::vector<int64_t> shape = first.sizes().vec();
    shape[0] = 0;
    for (const auto& e : encodings) {
      const auto& t = e.at(key);
      if (t.dim() != first.dim()) fail("Encoding::cat: part '", key, "' has different ranks");
      shape[0] += t.size(0);
      for (int64_t d = 1; d < t.dim(); ++d) shape[d] = std::max(shape[d], t.size(d));
    }
    // Rows are written in order, so the result's pages become resident only as
    // the inputs they replace are released.
    torch::Tensor result = torch::empty(shape, first.options());
    int64_t row = 0;
    for (auto& e : encodings) {
      torch::Tensor& t = e.parts.at(key);
      torch::Tensor rows = result.narrow(0, row, t.size(0));
      torch::Tensor target = rows;
      for (int64_t d = 1; d < t.dim(); ++d) target = target.narrow(d, 0, t.size(d));
      if (!target.is_same_size(rows)) rows.zero_();  // padding: zeros, or false for masks
      target.copy_(t);
      row += t.size(0);
      t = torch::Tensor();
    }
    out.parts[key] = result;
  }
  return out;
}

}  // namespace sm
