#include "scenematch/core/config.h"

namespace sm {

std::string cfg_choice(const Config& cfg, const std::string& key, std::initializer_list<const char*> choices) {
  const auto value = cfg_get<std::string>(cfg, key);
  std::string known;
  for (const char* c : choices) {
    if (value == c) return value;
    known += cat(known.empty() ? "" : ", ", "\"", c, "\"");
  }
  fail("config: key '", key, "' is \"", value, "\"; choose one of ", known);
}

void apply_overrides(Config& cfg, const std::vector<std::string>& assignments) {
  for (const auto& a : assignments) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) fail("--set '", a, "': expected KEY=VALUE");
    std::string key = a.substr(0, eq), value = a.substr(eq + 1);
    if (!cfg.contains(key)) {
      std::string known;
      for (const auto& [k, _] : cfg.items()) known += (known.empty() ? "" : ", ") + k;
      fail("--set '", a, "': unknown key '", key, "'; this configuration's keys: ", known);
    }
    Json parsed = Json::parse(value, nullptr, /*allow_exceptions=*/false);
    cfg[key] = parsed.is_discarded() ? Json(value) : parsed;
  }
}

}  // namespace sm
