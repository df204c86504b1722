// Errors carry a one-line message that names the file, line, index or field at
// fault, and says what to do where that is not obvious.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace sm {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Concatenates any streamable values into a string.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(cat(args...));
}

}  // namespace sm
