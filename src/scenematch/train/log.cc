#include "scenematch/train/log.h"

#include <sstream>

#include "scenematch/core/atomic_file.h"

namespace sm {

void write_log_jsonl(const std::string& path, const std::vector<Json>& records) {
  std::string text;
  for (const auto& r : records) text += r.dump() + "\n";
  write_file_atomic(path, text);
}

std::vector<Json> read_log_jsonl(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<Json> records;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) fail(path, ":", n, ": not a JSON object");
    records.push_back(std::move(j));
  }
  return records;
}

}  // namespace sm
