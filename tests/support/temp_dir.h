// A fresh temporary folder, removed with everything in it when the object
// goes. Its name holds `prefix`, the process id and a random part
// (mkdtemp), so parallel test processes and repeated tests never collide.
#pragma once
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "scenematch/core/error.h"

namespace sm::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "sm_test") {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()) + "_XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) fail("cannot create a temporary folder like ", tmpl);
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name, nothing created.
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace sm::testing
