// Shared by the fuzz targets. The readers take paths, so each input is written
// to a file first (in /dev/shm: no disk traffic). A reader may refuse an input
// only with sm::Error (the named-error contract): any other exception, a crash
// or a sanitizer report is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace sm::fuzz {

// Writes `size` bytes to a file of this process named `name` and returns its path.
inline std::string input_file(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = "/dev/shm/sm_fuzz_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace sm::fuzz
