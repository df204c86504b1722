// Relation probes (S_probes.jsonl): one JSON object a line.
#include "fuzz_input.h"
#include "scenematch/core/error.h"
#include "scenematch/data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sm::read_probes(sm::fuzz::input_file(data, size, "probes.jsonl"));
  } catch (const sm::Error&) {
  }
  return 0;
}
