// Vocabulary files: ours (vocab.json) and the authors' releases' (word2idx).
#include "fuzz_input.h"
#include "scenematch/core/error.h"
#include "scenematch/data/vocab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const sm::Vocab v = sm::Vocab::load(sm::fuzz::input_file(data, size, "vocab.json"));
    v.to_json();
  } catch (const sm::Error&) {
  }
  return 0;
}
