// A model/training configuration is a flat JSON object: model hyper-parameters
// and training schedule side by side, saved verbatim in every checkpoint.
#pragma once
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

// A required string key that must be one of `choices`; the error names the
// key, the value and every choice.
std::string cfg_choice(const Config& cfg, const std::string& key, std::initializer_list<const char*> choices);

// Applies "key=value" overrides (value parsed as JSON, else kept as a string).
// Only keys `cfg` already has can be set: a typo is an error that names the
// key and the known ones, never a setting that silently does nothing.
void apply_overrides(Config& cfg, const std::vector<std::string>& assignments);

}  // namespace sm
