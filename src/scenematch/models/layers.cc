#include "scenematch/models/layers.h"

#include <torch/nn/init.h>
#include <torch/nn/utils/rnn.h>
#include <torch/torch.h>

namespace sm {

torch::Tensor l2norm(const torch::Tensor& x, int64_t dim, double eps) {
  return x / (x.pow(2).sum(dim, /*keepdim=*/true).sqrt() + eps);
}

torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask) {
  auto m = mask.to(x.dtype()).unsqueeze(-1);
  return (x * m).sum(1) / m.sum(1).clamp_min(1.0);
}

torch::Tensor masked_max(const torch::Tensor& x, const torch::Tensor& mask) {
  return std::get<0>(x.masked_fill(~mask.unsqueeze(-1), -1e30).max(1));
}

RegionProjectionImpl::RegionProjectionImpl(int64_t in_dim, int64_t out_dim) {
  fc = register_module("fc", torch::nn::Linear(in_dim, out_dim));
  // Xavier-uniform over (in + out) as the SCAN-family precomp encoders do.
  double r = std::sqrt(6.0) / std::sqrt(double(in_dim + out_dim));
  torch::NoGradGuard g;
  fc->weight.uniform_(-r, r);
  fc->bias.zero_();
}

torch::Tensor RegionProjectionImpl::forward(const torch::Tensor& features) { return fc->forward(features); }

WordEncoderImpl::WordEncoderImpl(int64_t vocab_size, int64_t word_dim, int64_t hidden_, bool bidirectional_,
                                 int64_t layers)
    : bidirectional(bidirectional_), hidden(hidden_) {
  embed = register_module("embed", torch::nn::Embedding(vocab_size, word_dim));
  {
    torch::NoGradGuard g;
    embed->weight.uniform_(-0.1, 0.1);
  }
  gru = register_module(
      "gru",
      torch::nn::GRU(
          torch::nn::GRUOptions(word_dim, hidden_).num_layers(layers).batch_first(true).bidirectional(bidirectional_)));
}

WordEncoderImpl::Output WordEncoderImpl::forward(const torch::Tensor& tokens, const torch::Tensor& lengths) {
  return run(embed->forward(tokens), lengths);
}

WordEncoderImpl::Output WordEncoderImpl::run(const torch::Tensor& inputs, const torch::Tensor& lengths) {
  namespace rnn = torch::nn::utils::rnn;
  auto packed = rnn::pack_padded_sequence(inputs, lengths.to(torch::kCPU).to(torch::kInt64), /*batch_first=*/true,
                                          /*enforce_sorted=*/false);
  auto [out_packed, h_n] = gru->forward_with_packed_input(packed);
  auto [out, out_lengths] = rnn::pad_packed_sequence(out_packed, /*batch_first=*/true, 0.0, inputs.size(1));
  Output o;
  if (bidirectional) {
    o.words = (out.slice(2, 0, hidden) + out.slice(2, hidden, 2 * hidden)) / 2;
    o.final = (h_n[-2] + h_n[-1]) / 2;
  } else {
    o.words = out;
    o.final = h_n[-1];
  }
  return o;
}

}  // namespace sm
