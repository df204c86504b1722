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

// The Gaussian kernel of Eqs. 10-11, exp(-||a_i - b_j||^2 / sigma) as printed
// (squared) or exp(-||a_i - b_j|| / sigma) as the release computes it.
torch::Tensor gaussian_kernel(const torch::Tensor& a, const torch::Tensor& b, double sigma, bool squared);

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
                          double tau, double sigma, bool squared);

// Eq. 13 with the paper's distance-weighted negative sampling (Manmatha et al.,
// ICCV 2017), as the release implements it. For each anchor row and each of
// its positives, one negative of the row is drawn with probability
// proportional to d^(2-n) (1 - d^2/4)^((3-n)/2), d = sqrt(2 - 2 s) clamped
// below at `cutoff`, among the negatives with d < nonzero_cutoff; the hinge
// [margin + s_an - s_ap]_+ is summed. A row without such a negative adds 0.
struct DistanceWeighting {
  double margin = 0.2;
  double cutoff = 0.5;          // release: 0.5
  double dim = 512;             // n, release: 512 whatever the embedding size
  double nonzero_cutoff = 1.7;  // release: 1.7 Flickr30K, 1.9 MS-COCO
};
// One direction: anchors are the rows of scores (N, M), positives (N, M) bool.
torch::Tensor distance_weighted_anchor_loss(const torch::Tensor& scores, const torch::Tensor& positives,
                                            const DistanceWeighting& w);
// Both directions of a (B, B) image x caption score matrix.
torch::Tensor distance_weighted_triplet(const torch::Tensor& scores, const torch::Tensor& positives,
                                        const DistanceWeighting& w);

}  // namespace sm::hrem
