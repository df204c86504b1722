// Ensembles: several models, each with its own vocabulary and batcher on the
// same split, their similarity matrices averaged (GSMN's sparse + dense
// ensemble, the papers' "two-model ensemble"). One member is a plain model.
#pragma once
#include <string>
#include <vector>

#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"

namespace sm {

std::vector<ModelData> load_ensemble(const std::vector<std::string>& checkpoints, const std::string& data_dir,
                                     const std::string& split, const torch::Device& device,
                                     const EvalDataOptions& options = {});

// Fails, naming both members, unless all members see the same image and
// caption counts (the same split, read through each model's own needs).
void check_same_split(const std::vector<ModelData>& members);

// "vsepp" or "gsmn + gsmn" for reports.
std::string ensemble_name(const std::vector<ModelData>& members);

// (Ni, Nc) float32 CPU: the mean of every member's similarity matrix.
torch::Tensor ensemble_similarity(const std::vector<ModelData>& members, const SimilarityOptions& options = {});

}  // namespace sm
