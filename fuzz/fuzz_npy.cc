// .npy reader: header (magic, version, dict, dtype, order, shape) and data (rows in every type).
#include <algorithm>

#include "fuzz_input.h"
#include "scenematch/core/error.h"
#include "scenematch/data/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sm::fuzz::input_file(data, size, "input.npy");
  try {
    const sm::NpyArray a = sm::NpyArray::open(path);
    const int64_t n = std::min<int64_t>(a.rows(), 4);
    a.stored_rows(0, n);
    a.rows(0, n);
    if (a.rows() > 0) a.gather({a.rows() - 1, 0});
  } catch (const sm::Error&) {
  }
  return 0;
}
