#include "scenematch/core/config.h"

namespace sm {

void apply_overrides(Config& cfg, const std::vector<std::string>& assignments) {
  for (const auto& a : assignments) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) fail("--set '", a, "': expected KEY=VALUE");
    std::string key = a.substr(0, eq), value = a.substr(eq + 1);
    Json parsed = Json::parse(value, nullptr, /*allow_exceptions=*/false);
    cfg[key] = parsed.is_discarded() ? Json(value) : parsed;
  }
}

}  // namespace sm
