// A model/training configuration is a flat JSON object: model hyper-parameters
// and training schedule side by side, saved verbatim in every checkpoint.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "scenematch/core/error.h"

namespace sm {

using Json = nlohmann::json;
using Config = nlohmann::json;

// Reads a required key with a message naming it when missing or mistyped.
template <class T>
T cfg_get(const Config& cfg, const std::string& key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) fail("config: missing key '", key, "'");
  try {
    return it->template get<T>();
  } catch (const nlohmann::json::exception& e) {
    fail("config: key '", key, "' has the wrong type (", it->dump(), ")");
  }
}

template <class T>
T cfg_get(const Config& cfg, const std::string& key, const T& fallback) {
  auto it = cfg.find(key);
  return it == cfg.end() ? fallback : cfg_get<T>(cfg, key);
}

// Applies "key=value" overrides (value parsed as JSON, else kept as a string).
void apply_overrides(Config& cfg, const std::vector<std::string>& assignments);

}  // namespace sm
