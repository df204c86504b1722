// Layers shared by several models: region projection, the BiGRU word encoder,
// and masked reductions.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

namespace sm {

torch::Tensor l2norm(const torch::Tensor& x, int64_t dim = -1, double eps = 1e-8);
// Mean of x (B, N, D) over N where mask (B, N) is true.
torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask);
// Max of x (B, N, D) over N where mask is true.
torch::Tensor masked_max(const torch::Tensor& x, const torch::Tensor& mask);

// Linear F -> d on every region (SCAN / VSE++ precomp encoder), Xavier-uniform
// init as in the released SCAN-family code.
struct RegionProjectionImpl : torch::nn::Module {
  RegionProjectionImpl(int64_t in_dim, int64_t out_dim);
  torch::Tensor forward(const torch::Tensor& features);  // (B, R, F) -> (B, R, d)
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(RegionProjection);

// Word embedding (init U(-0.1, 0.1)) + GRU over packed sequences, so padding
// never reaches the backward direction. Bidirectional outputs are averaged
// ((h_fwd + h_bwd) / 2), as GSMN, SGM and the SCAN family do.
struct WordEncoderImpl : torch::nn::Module {
  WordEncoderImpl(int64_t vocab_size, int64_t word_dim, int64_t hidden, bool bidirectional = true, int64_t layers = 1);
  struct Output {
    torch::Tensor words;  // (B, L, hidden), zeros at padding
    torch::Tensor final;  // (B, hidden): mean of the directions' last states
  };
  Output forward(const torch::Tensor& tokens, const torch::Tensor& lengths);
  // Same GRU over pre-computed inputs (B, L, word_dim), e.g. embeddings with POS.
  Output run(const torch::Tensor& inputs, const torch::Tensor& lengths);
  torch::nn::Embedding embed{nullptr};
  torch::nn::GRU gru{nullptr};
  bool bidirectional;
  int64_t hidden;
};
TORCH_MODULE(WordEncoder);

}  // namespace sm
