// HREM internals exposed for tests: the instance-level graph (connection mask
// A and relevance matrix S) and the fragment-level matching values it is built
// from. The model itself registers as "hrem" (see hrem.cc).
#pragma once
#include <torch/types.h>

namespace sm::hrem {

// Row-wise neighbour mask: true at the max(1, floor(tau * M)) largest entries
// of each row of an (N, M) affinity (the top-tau rule).
torch::Tensor top_neighbours(const torch::Tensor& affinity, double tau);

// Eq. 7-9 for every image of a batch against every caption, on the initial
// fragment features (regions (Ni, R, d), words (Nc, L, d), masks true =
// present): SCAN-style cosine matrix, LeakyReLU(0.1), l2-normalised across
// the other modality's axis, max, then the mean (p) and the top-K maxima (q,
// zero-padded when fewer than K fragments exist).
struct FragmentMatching {
  torch::Tensor p_i2t;  // (Ni, Nc) mean over regions of each region's best word
  torch::Tensor q_i2t;  // (Ni, Nc, K)
  torch::Tensor p_t2i;  // (Nc, Ni) mean over words of each word's best region
  torch::Tensor q_t2i;  // (Nc, Ni, K)
};
FragmentMatching fragment_matching(const torch::Tensor& regions, const torch::Tensor& region_mask,
                                   const torch::Tensor& words, const torch::Tensor& word_mask, int64_t topk);

// The 2N x 2N graph of Eq. 4 over nodes [images; captions]: intra-modal
// neighbours by embedding similarity, inter-modal ones by p; relevance from
// the Gaussian kernel (intra) and the learned s (inter).
struct InstanceGraph {
  torch::Tensor connect;    // (2N, 2N) bool, A
  torch::Tensor relevance;  // (2N, 2N) float, S
  // lambda * S where A is set, -inf elsewhere: the additive attention mask of Eq. 12.
  torch::Tensor attention_bias(double lambda) const;
};
InstanceGraph build_graph(const torch::Tensor& images, const torch::Tensor& captions, const torch::Tensor& p_i2t,
                          const torch::Tensor& p_t2i, const torch::Tensor& s_i2t, const torch::Tensor& s_t2i,
                          double tau, double sigma);

}  // namespace sm::hrem
