// The index manifest (INDEX/manifest.json).
#include "fuzz_input.h"
#include "scenematch/core/error.h"
#include "scenematch/search/index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sm::read_index_manifest(sm::fuzz::input_file(data, size, "manifest.json"));
  } catch (const sm::Error&) {
  }
  return 0;
}
