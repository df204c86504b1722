// Parse caches: the input is the captions, a NUL byte, then the cache file
// written for them (so mutations of the cache part keep its caption key).
#include <algorithm>

#include "fuzz_input.h"
#include "scenematch/core/error.h"
#include "scenematch/text/parse_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* nul = std::find(data, data + size, uint8_t{0});
  if (nul == data + size) return 0;
  std::vector<std::string> captions;
  std::string line;
  for (const uint8_t* p = data; p != nul; ++p) {
    if (*p == '\n') {
      captions.push_back(line);
      line.clear();
    } else {
      line += static_cast<char>(*p);
    }
  }
  try {
    sm::read_parse_cache(sm::fuzz::input_file(nul + 1, data + size - nul - 1, "cache.bin"), captions);
  } catch (const sm::Error&) {
  }
  return 0;
}
