#include "scenematch/eval/ensemble.h"

#include <torch/torch.h>

namespace sm {

std::vector<ModelData> load_ensemble(const std::vector<std::string>& checkpoints, const std::string& data_dir,
                                     const std::string& split, const torch::Device& device,
                                     const EvalDataOptions& options) {
  if (checkpoints.empty()) fail("no checkpoint given");
  std::vector<ModelData> members;
  for (const auto& path : checkpoints) members.push_back(load_model_data(path, data_dir, split, device, options));
  check_same_split(members);
  return members;
}

void check_same_split(const std::vector<ModelData>& members) {
  if (members.empty()) fail("an ensemble needs at least one model");
  const Split& first = members.front().split();
  for (const auto& m : members) {
    const Split& s = m.split();
    if (s.num_images() != first.num_images() || s.num_captions() != first.num_captions())
      fail("ensemble members disagree on the split: ", members.front().source, " sees ", first.num_images(),
           " images and ", first.num_captions(), " captions, ", m.source, " sees ", s.num_images(), " and ",
           s.num_captions());
  }
}

std::string ensemble_name(const std::vector<ModelData>& members) {
  std::string name;
  for (const auto& m : members) name += (name.empty() ? "" : " + ") + m.bundle.name;
  return name;
}

torch::Tensor ensemble_similarity(const std::vector<ModelData>& members, const SimilarityOptions& options) {
  check_same_split(members);
  torch::Tensor sum;
  for (const auto& m : members) {
    torch::Tensor sims = similarity_matrix(m.model(), m.batcher(), options);
    if (sum.defined())
      sum += sims;
    else
      sum = sims;
  }
  if (members.size() > 1) sum /= static_cast<double>(members.size());
  return sum;
}

}  // namespace sm
