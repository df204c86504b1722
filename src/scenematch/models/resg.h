// ReSG (Liu et al., IEEE TCYB 2022): the pieces tests and benchmarks reach
// directly. The model itself registers as "resg" from resg.cc.
//
// Score matrices are (B, B) with rows = images and columns = captions; their
// diagonal holds the matched pairs. `positive` (B, B) bool marks every
// (image, caption) pair that matches (the diagonal, plus other captions of the
// same image when the batch holds several).
#pragma once
#include <torch/types.h>

#include <vector>

namespace sm::resg {

// Both of the paper's similarities for every image x caption pair (Ni, Nc).
struct DirectionalScores {
  torch::Tensor words;    // S(V,T), Eq. 15: over words, each word's best region
  torch::Tensor regions;  // S(T,V), Eq. 16: over regions, each region's best word
};

// regions (Ni, R, D) and words (Nc, L, D) are l2-normalised nodes. mean_pool:
// divide each sum by its number of words / regions (see docs/models/resg.md).
DirectionalScores directional_scores(const torch::Tensor& regions, const torch::Tensor& region_mask,
                                     const torch::Tensor& words, const torch::Tensor& word_mask, bool mean_pool);

// Reference for one image (R, D) and one caption (L, D), loop by loop from
// Eqs. 15-16; returns {S(V,T), S(T,V)}.
std::pair<double, double> reference_score(const torch::Tensor& regions, const torch::Tensor& region_mask,
                                          const torch::Tensor& words, const torch::Tensor& word_mask, bool mean_pool);

// Eq. 17: image anchors rank captions by S(V,T), caption anchors rank images
// by S(T,V); hardest negative each (or the sum over negatives when
// max_violation is false). Summed over the batch. `positive`: positive_pairs
// of losses.h.
torch::Tensor hardest_negative_loss(const torch::Tensor& s_words, const torch::Tensor& s_regions,
                                    const torch::Tensor& positive, double margin, bool max_violation = true);
// Eq. 18: every negative above gamma and every matched pair below beta.
torch::Tensor center_hinge_loss(const torch::Tensor& s_words, const torch::Tensor& s_regions,
                                const torch::Tensor& positive, double beta, double gamma);
// Eq. 19 (cross-modal reading): per anchor, the least similar positive must
// beat the most similar negative by delta.
torch::Tensor positive_negative_margin_loss(const torch::Tensor& s_words, const torch::Tensor& s_regions,
                                            const torch::Tensor& positive, double delta);

// (B, L, L) bool: row i keeps the k present words j != i of highest cosine
// with word i (Eqs. 10-11's N_k); all false on padding rows.
torch::Tensor knn_mask(const torch::Tensor& nodes, const torch::Tensor& mask, int64_t k);

}  // namespace sm::resg
