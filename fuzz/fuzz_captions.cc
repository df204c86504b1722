// Caption files (S_caps.txt): one UTF-8 caption a line.
#include "fuzz_input.h"
#include "scenematch/core/error.h"
#include "scenematch/data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sm::read_caption_lines(sm::fuzz::input_file(data, size, "caps.txt"));
  } catch (const sm::Error&) {
  }
  return 0;
}
