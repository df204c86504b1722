// File layout (integers are little-endian uint64):
//   "SMCKPT01" | total file size | header length | header JSON | weights | optimizer | FNV-1a of all before
// The header holds the name, config, vocabulary, trainer state and the byte
// sizes of the two sections; the size field up front tells a truncated file
// from a corrupt one before anything is parsed. Format 2 stores the weights as
// a tensor pack (core/tensor_pack.h); format 1 stored a LibTorch archive, whose
// loader a crafted file could crash, and is refused.
#include "scenematch/models/checkpoint.h"

#include <sys/stat.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/tensor_pack.h"

namespace sm {
namespace {

constexpr char kMagic[8] = {'S', 'M', 'C', 'K', 'P', 'T', '0', '1'};
constexpr size_t kPrefix = sizeof kMagic + 2 * sizeof(uint64_t);
constexpr int kFormat = 2;

void put_u64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }

uint64_t get_u64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

int64_t parameter_count(Matcher& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, ": cannot open (no such file?)");
  return static_cast<uint64_t>(st.st_size);
}

// Checks the fixed prefix against the real file size; returns the header length.
uint64_t check_prefix(const std::string& path, const char* prefix, uint64_t available, uint64_t file_size) {
  size_t magic_bytes = std::min<uint64_t>(available, sizeof kMagic);
  if (std::memcmp(prefix, kMagic, magic_bytes) != 0)
    fail(path, ": not a scenematch checkpoint (bad magic; corrupt or a different kind of file)");
  if (available < kPrefix) fail(path, ": truncated (", file_size, " bytes, shorter than the fixed header)");
  uint64_t total = get_u64(prefix + 8), header_len = get_u64(prefix + 16);
  if (file_size < total) fail(path, ": truncated (", file_size, " of ", total, " bytes; was the write interrupted?)");
  if (file_size > total) fail(path, ": corrupt (", file_size, " bytes but the header says ", total, ")");
  if (header_len > total - kPrefix - sizeof(uint64_t)) fail(path, ": corrupt (header length out of range)");
  return header_len;
}

Json parse_header(const std::string& path, const char* data, uint64_t len) {
  Json header = Json::parse(data, data + len, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object() || !header.contains("name") || !header.contains("sizes"))
    fail(path, ": corrupt (header is not the expected JSON)");
  return header;
}

}  // namespace

void save_checkpoint(const std::string& path, const ModelBundle& bundle, const Json& trainer_state,
                     const std::string& optimizer_bytes) {
  if (!bundle.model) fail(path, ": save_checkpoint: no model");
  const std::string weights = pack_tensors(model_tensors(*bundle.model));
  Json header = {{"format", kFormat},
                 {"name", bundle.name},
                 {"config", bundle.config},
                 {"vocab", bundle.vocab.to_json()},
                 {"trainer_state", trainer_state},
                 {"sizes",
                  {{"weights", weights.size()},
                   {"optimizer", optimizer_bytes.size()},
                   {"parameters", parameter_count(*bundle.model)}}}};
  const std::string header_text = header.dump();
  const uint64_t total = kPrefix + header_text.size() + weights.size() + optimizer_bytes.size() + sizeof(uint64_t);

  // Assembled in memory first: a failure while serialising never touches the file.
  std::string bytes(kMagic, sizeof kMagic);
  bytes.reserve(total);
  put_u64(bytes, total);
  put_u64(bytes, header_text.size());
  bytes += header_text;
  bytes += weights;
  bytes += optimizer_bytes;
  put_u64(bytes, fnv1a64(bytes.data(), bytes.size()));
  write_file_atomic(path, bytes);
}

CheckpointFile load_checkpoint(const std::string& path, const torch::Device& device) {
  const std::string bytes = read_file(path);
  const uint64_t header_len = check_prefix(path, bytes.data(), bytes.size(), bytes.size());
  const size_t body_end = bytes.size() - sizeof(uint64_t);
  if (fnv1a64(bytes.data(), body_end) != get_u64(bytes.data() + body_end))
    fail(path, ": corrupt (checksum mismatch; the file was changed after it was written)");
  Json header = parse_header(path, bytes.data() + kPrefix, header_len);

  uint64_t weights_size = 0, optimizer_size = 0;
  try {
    weights_size = header.at("sizes").value("weights", uint64_t{0});
    optimizer_size = header.at("sizes").value("optimizer", uint64_t{0});
  } catch (const Json::exception& e) {
    fail(path, ": corrupt header (", e.what(), ")");
  }
  // Each size on its own first: a huge one could wrap the sum round to the file size.
  if (weights_size > body_end || optimizer_size > body_end ||
      kPrefix + header_len + weights_size + optimizer_size != body_end)
    fail(path, ": corrupt (section sizes do not add up to the file size)");

  const Json format = header.value("format", Json());
  if (format != kFormat)
    fail(path, ": checkpoint format ", format.dump(), " (this build reads format ", kFormat,
         "; format 1 came from builds before the weights became a tensor pack: retrain, or load it with such a build "
         "and save it again)");
  CheckpointFile out;
  try {
    out.bundle.name = header.at("name").get<std::string>();
    out.bundle.config = header.at("config");
    out.bundle.vocab = Vocab::from_json(header.at("vocab"));
    out.trainer_state = header.value("trainer_state", Json::object());
  } catch (const std::exception& e) {
    fail(path, ": corrupt header (", e.what(), ")");
  }
  out.bundle.model = make_matcher(out.bundle.name, out.bundle.config, out.bundle.vocab);
  const std::string weights_what = cat(path, ": weights of model '", out.bundle.name, "'");
  assign_tensors(*out.bundle.model,
                 unpack_tensors(std::string_view(bytes).substr(kPrefix + header_len, weights_size), weights_what),
                 weights_what);
  out.bundle.model->to(device);
  out.optimizer_bytes = bytes.substr(kPrefix + header_len + weights_size, optimizer_size);
  return out;
}

Json read_checkpoint_header(const std::string& path) {
  const uint64_t size = file_size(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (permission?)");
  char prefix[kPrefix];
  in.read(prefix, kPrefix);
  const uint64_t header_len = check_prefix(path, prefix, static_cast<uint64_t>(in.gcount()), size);
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (static_cast<uint64_t>(in.gcount()) != header_len) fail(path, ": truncated header");
  return parse_header(path, header.data(), header_len);
}

}  // namespace sm
