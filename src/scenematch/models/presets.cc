#include "scenematch/models/presets.h"

#include "scenematch/core/error.h"

namespace sm {

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"paper", "release", "paper-coco", "release-coco", "cpu"};
  return names;
}

namespace {
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}
}  // namespace

PresetName parse_preset(const std::string& preset) {
  if (preset == "paper" || preset == "release" || preset == "cpu") return {preset, false};
  if (preset == "paper-coco") return {"paper", true};
  if (preset == "release-coco") return {"release", true};
  fail("unknown preset '", preset, "'; known presets: ", joined(preset_names()));
}

PresetName model_preset(const std::string& model, const std::string& preset, const std::vector<std::string>& known) {
  PresetName name = parse_preset(preset);
  for (const auto& k : known)
    if (k == preset) return name;
  fail("model '", model, "' has no preset '", preset, "'; its presets: ", joined(known),
       " (docs/models.md lists what each runs)");
}

}  // namespace sm
