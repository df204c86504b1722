// Checkpoint files. Most mutations would only trip the checksum, so the
// target also loads a copy with the size field and the checksum made right:
// that reaches the header JSON, the vocabulary, the model's config and the
// weights archive.
#include <cstring>

#include "fuzz_input.h"
#include "scenematch/core/atomic_file.h"
#include "scenematch/core/error.h"
#include "scenematch/models/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kPrefix = 24, kChecksum = 8;
  try {
    sm::read_checkpoint_header(sm::fuzz::input_file(data, size, "raw.ckpt"));
  } catch (const sm::Error&) {
  }
  if (size < kPrefix + kChecksum) return 0;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  const uint64_t total = size;
  std::memcpy(bytes.data() + 8, &total, sizeof total);
  const uint64_t sum = sm::fnv1a64(bytes.data(), size - kChecksum);
  std::memcpy(bytes.data() + size - kChecksum, &sum, sizeof sum);
  try {
    sm::load_checkpoint(sm::fuzz::input_file(reinterpret_cast<const uint8_t*>(bytes.data()), size, "fixed.ckpt"),
                        torch::kCPU);
  } catch (const sm::Error&) {
  }
  return 0;
}
