// Scene graphs of the images (S_vsg.jsonl): one JSON object a line.
#include "fuzz_input.h"
#include "scenematch/core/error.h"
#include "scenematch/data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sm::read_scene_graphs(sm::fuzz::input_file(data, size, "vsg.jsonl"));
  } catch (const sm::Error&) {
  }
  return 0;
}
