// POST /search bodies. A malformed one must come back as a RequestError (a 4xx).
#include <cstdint>
#include <string>

#include "scenematch/search/server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const sm::ServerOptions limits;
  try {
    sm::parse_search_request(std::string(reinterpret_cast<const char*>(data), size), limits);
  } catch (const sm::RequestError& e) {
    if (e.status < 400 || e.status > 499) __builtin_trap();
  }
  return 0;
}
