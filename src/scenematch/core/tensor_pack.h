// Named tensors as one byte string that needs no code to read back:
//   index length (uint64, little-endian) | index JSON | raw tensor bytes
// The index lists {name, dtype, shape, offset, bytes} per tensor, the same
// entries the release converter writes. Checkpoints store weights and
// optimizer state this way instead of as LibTorch archives, whose TorchScript
// loader recurses without bound on a crafted file (docs/reliability.md).
#pragma once
#include <torch/torch.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scenematch/core/config.h"

namespace sm {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// CPU copies of `tensors`, contiguous, in the given order.
std::string pack_tensors(const NamedTensors& tensors);
// The tensors of a pack, on the CPU; `what` names the pack in every error
// (a file and its section). Names must be unique.
NamedTensors unpack_tensors(std::string_view bytes, const std::string& what);

// One index entry's tensor from `blob`, its dtype, shape and extent checked.
torch::Tensor tensor_from_entry(const Json& entry, std::string_view blob, const std::string& what);

// Copies `source` into the model's parameters and buffers, by name; missing,
// extra and mis-shaped tensors are refused with `what` and the name.
void assign_tensors(torch::nn::Module& model, const NamedTensors& source, const std::string& what);
// The model's parameters, then its buffers, by their dotted names.
NamedTensors model_tensors(const torch::nn::Module& model);

}  // namespace sm
