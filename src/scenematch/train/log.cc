#include "scenematch/train/log.h"

#include <cstdio>
#include <sstream>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/error.h"

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

std::string format_terms(const Json& record) {
  const Json terms = record.value("terms", Json::object());  // named: items() would outlive a temporary
  std::string text;
  for (const auto& [name, value] : terms.items()) {
    char number[32];
    std::snprintf(number, sizeof number, "%.4g", value.get<double>());
    text += cat(text.empty() ? "" : "  ", name, " ", number);
  }
  return text;
}

}  // namespace sm
