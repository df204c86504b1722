#include "scenematch/core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "scenematch/core/error.h"

namespace sm {
namespace {

// Removes PATH.tmp.<pid> files whose writer no longer runs (a process killed
// mid-write leaves one behind; nothing ever reads it). A live pid's file is
// kept: it may be another process writing the same path right now.
void remove_dead_writers_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    if (pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == getpid() || pid <= 0) continue;
    std::error_code not_removed;  // a file that cannot be removed is simply left
    if (::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(it->path(), not_removed);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& writer) {
  remove_dead_writers_temporaries(path);
  std::string tmp = cat(path, ".tmp.", getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, ": cannot open for writing (does the folder exist and is it writable?)");
    try {
      writer(out);
    } catch (...) {
      out.close();
      std::remove(tmp.c_str());  // the old file stays as it was
      throw;
    }
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      fail(path, ": write failed (disk full?)");
    }
  }
  int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(path, ": cannot rename temporary file into place");
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, [&](std::ostream& out) { out.write(bytes.data(), bytes.size()); });
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (no such file?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t fnv1a64(const void* data, size_t size, uint64_t seed) {
  auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

std::string file_hash_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (no such file?)");
  std::vector<char> buf(1 << 20);
  uint64_t h = 1469598103934665603ull;
  while (in) {
    in.read(buf.data(), buf.size());
    h = fnv1a64(buf.data(), static_cast<size_t>(in.gcount()), h);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace sm
