// Imports the authors' released checkpoints (GSMN's model_best.pth.tar, VSE∞'s
// model_best.pth) into scenematch checkpoints. A converter run with Debian's
// python3-torch turns the torch.save stream into plain tensors and a JSON
// `opt`; everything else (names, shapes, settings) is checked and mapped here.
#pragma once
#include <string>

#include "scenematch/models/checkpoint.h"

namespace sm {

struct ImportOptions {
  std::string from;        // "gsmn" or "vse_infty"
  std::string checkpoint;  // the authors' file
  std::string vocab;       // their vocab.json (GSMN's checkpoint holds none)
};

struct ImportedModel {
  ModelBundle bundle;
  Json provenance;  // the release file, its epoch, best_rsum and Eiters
};

// The model with the release's weights and settings. Errors name the file and
// the key (missing, unexpected, wrong shape, unsupported opt value).
ImportedModel import_release(const ImportOptions& options);

// The two steps of import_release: the converter writes header.json and
// tensors.bin into out_dir; import_converted checks and maps them.
void convert_release(const std::string& checkpoint, const std::string& out_dir);
ImportedModel import_converted(const ImportOptions& options, const std::string& converted_dir);

}  // namespace sm
