// Preset names shared by every model. "paper": the paper's printed values
// wherever the paper is explicit, the authors' release where it is silent.
// "release": the release's departures from an explicit paper (models with a
// release that departs). "cpu": small sizes for the synthetic world.
// "paper-coco" / "release-coco": the same for MS-COCO, where the papers
// state other settings. docs/models.md lists every departure per model.
#pragma once
#include <string>
#include <vector>

namespace sm {

struct PresetName {
  std::string family;  // "paper", "release" or "cpu"
  bool coco = false;
};

// Every preset name some model has, in the order `scenematch models` lists them.
const std::vector<std::string>& preset_names();

// fail()s on a name not in preset_names().
PresetName parse_preset(const std::string& preset);

// parse_preset for one model's preset function: fail()s, naming the model and
// the presets it has, on a name outside `known`.
PresetName model_preset(const std::string& model, const std::string& preset, const std::vector<std::string>& known);

}  // namespace sm
