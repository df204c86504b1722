#include "scenematch/core/tensor_pack.h"

#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "scenematch/core/error.h"

namespace sm {
namespace {

const std::vector<std::pair<std::string, torch::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> names = {
      {"float32", torch::kFloat}, {"float64", torch::kDouble}, {"float16", torch::kHalf}, {"int64", torch::kLong},
      {"int32", torch::kInt},     {"uint8", torch::kByte},     {"bool", torch::kBool}};
  return names;
}

std::string dtype_name(torch::ScalarType type) {
  for (const auto& [name, t] : dtype_names())
    if (t == type) return name;
  fail("tensor pack: dtype ", c10::toString(type), " cannot be stored");
}

}  // namespace

std::string pack_tensors(const NamedTensors& tensors) {
  Json index = Json::array();
  std::vector<torch::Tensor> data;
  size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const size_t bytes = t.nbytes();
    index.push_back({{"name", name},
                     {"dtype", dtype_name(t.scalar_type())},
                     {"shape", t.sizes().vec()},
                     {"offset", offset},
                     {"bytes", bytes}});
    offset += bytes;
    data.push_back(t);
  }
  const std::string index_text = index.dump();
  const uint64_t index_len = index_text.size();
  std::string out(reinterpret_cast<const char*>(&index_len), sizeof index_len);
  out.reserve(sizeof index_len + index_text.size() + offset);
  out += index_text;
  for (const auto& t : data) out.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  return out;
}

torch::Tensor tensor_from_entry(const Json& entry, std::string_view blob, const std::string& what) {
  if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string())
    fail(what, ": an index entry has no name");
  const std::string name = entry["name"].get<std::string>();
  auto field = [&](const char* key) -> const Json& {
    if (!entry.contains(key)) fail(what, ": tensor '", name, "' has no '", key, "'");
    return entry[key];
  };
  const Json &dtype = field("dtype"), &shape = field("shape"), &offset = field("offset"), &bytes = field("bytes");
  torch::ScalarType type = torch::kFloat;
  bool known = false;
  for (const auto& [n, t] : dtype_names())
    if (dtype.is_string() && dtype.get<std::string>() == n) type = t, known = true;
  if (!known) fail(what, ": tensor '", name, "' has dtype ", dtype.dump(), ", which is not stored here");
  if (!shape.is_array()) fail(what, ": tensor '", name, "' has a shape that is not a list");
  std::vector<int64_t> sizes;
  uint64_t elements = 1;
  for (const Json& s : shape) {
    if (!s.is_number_unsigned() || s.get<uint64_t>() > (uint64_t{1} << 40))
      fail(what, ": tensor '", name, "' has shape ", shape.dump());
    sizes.push_back(s.get<int64_t>());
    // No product of sizes may pass the blob's size: that also bounds the overflow.
    elements = s.get<uint64_t>() == 0 ? 0 : elements * s.get<uint64_t>();
    if (elements > blob.size()) fail(what, ": tensor '", name, "' of shape ", shape.dump(), " is larger than the data");
  }
  if (!offset.is_number_unsigned() || !bytes.is_number_unsigned())
    fail(what, ": tensor '", name, "' has an offset or size that is not a count");
  const uint64_t at = offset.get<uint64_t>(), size = bytes.get<uint64_t>();
  if (size != elements * c10::elementSize(type))
    fail(what, ": tensor '", name, "' says ", size, " bytes, its dtype and shape make ",
         elements * c10::elementSize(type));
  if (at > blob.size() || size > blob.size() - at)
    fail(what, ": tensor '", name, "' lies outside the data (", at, " + ", size, " > ", blob.size(), " bytes)");
  torch::Tensor t = torch::empty(sizes, type);
  if (size) std::memcpy(t.data_ptr(), blob.data() + at, size);  // an empty tensor's pointer is null
  if (type == torch::kBool && size &&
      !torch::logical_or(t.view(torch::kByte) == 0, t.view(torch::kByte) == 1).all().item<bool>())
    fail(what, ": tensor '", name, "' holds bool bytes other than 0 and 1");
  return t;
}

NamedTensors unpack_tensors(std::string_view bytes, const std::string& what) {
  uint64_t index_len = 0;
  if (bytes.size() < sizeof index_len) fail(what, ": too short to hold tensors (", bytes.size(), " bytes)");
  std::memcpy(&index_len, bytes.data(), sizeof index_len);
  if (index_len > bytes.size() - sizeof index_len) fail(what, ": the tensor index runs past the end");
  const char* begin = bytes.data() + sizeof index_len;
  const Json index = Json::parse(begin, begin + index_len, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_array()) fail(what, ": the tensor index is not a JSON list");
  const std::string_view blob = bytes.substr(sizeof index_len + index_len);  // a view: no copy of the data
  NamedTensors out;
  std::set<std::string> seen;
  for (const Json& entry : index) {
    torch::Tensor t = tensor_from_entry(entry, blob, what);
    std::string name = entry["name"].get<std::string>();
    if (!seen.insert(name).second) fail(what, ": tensor '", name, "' is stored twice");
    out.emplace_back(std::move(name), std::move(t));
  }
  return out;
}

NamedTensors model_tensors(const torch::nn::Module& model) {
  NamedTensors out;
  for (const auto& p : model.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : model.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

void assign_tensors(torch::nn::Module& model, const NamedTensors& source, const std::string& what) {
  std::map<std::string, const torch::Tensor*> given;
  for (const auto& [name, t] : source) given[name] = &t;
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : model_tensors(model)) {
    auto it = given.find(name);
    if (it == given.end()) fail(what, ": no tensor '", name, "', which the model has");
    const torch::Tensor& t = *it->second;
    if (t.sizes() != target.sizes() || t.scalar_type() != target.scalar_type())
      fail(what, ": tensor '", name, "' is ", t.sizes(), " ", c10::toString(t.scalar_type()), ", the model's is ",
           target.sizes(), " ", c10::toString(target.scalar_type()));
    target.copy_(t);
    given.erase(it);
  }
  if (!given.empty()) fail(what, ": tensor '", given.begin()->first, "' belongs to no part of this model");
}

}  // namespace sm
