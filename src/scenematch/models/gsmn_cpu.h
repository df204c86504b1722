// GSMN's node-level matching (Eqs. 3-5 and the block cosines) for inference
// on the CPU: the word-region products, both attentions and the block
// cosines, one cache-sized tile of captions x images per thread, with the
// GEMMs in BLAS. score() in gsmn.cc calls it when autograd is off; the
// tensor path there is the same math for training and other devices.
#pragma once

#include <cstdint>

namespace sm::gsmn_cpu {

// Constants the engine shares with gsmn.cc's tensor path, so both compute
// the same numbers.
inline constexpr float kMaskedLogit = -1e30f;  // finite, so a fully masked row is uniform, never NaN
inline constexpr double kCosEps = 1e-8;        // torch.cosine_similarity's eps, as the released code uses
// The padded L2 norm: x / (sqrt(max(|x|^2, kNormFloor)) + kNormEps).
inline constexpr double kNormFloor = 1e-30, kNormEps = 1e-8;

// One modality's encoded nodes, in the layouts gsmn.cc prepares (t blocks of
// db values each; `nodes` words per caption or regions per image).
struct Nodes {
  // Node vectors. Words: (count * nodes, t * db), row-major. Regions: block-major
  // and transposed, (t, db, count * nodes), so that every block product
  // U_b V_b^T is a no-transpose GEMM, which OpenBLAS runs 1.2-1.4x faster than
  // the transposed one at the tile's shapes (48 x 64 x 144, one thread).
  const float* vectors;
  const float* gram;   // (count, nodes, t*nodes): per item and block, the nodes' Gram matrix
  const float* norm2;  // (count, nodes, t): squared block norms
  const bool* keep;    // (count, nodes): false for padding
  int64_t count, nodes;
};

struct Attention {
  int64_t blocks, block_dim;
  float lambda;  // inverse temperature of both softmaxes
  bool clipped;  // LeakyReLU + L2 over the query axis before the softmax
};

// Matching vectors of captions [c0, c1) against images [i0, i1):
// x_t (Bc, L, Bi, t), word w of caption c against its attended region vector
// in image i; x_v (Bi, R, Bc, t), region r against its attended word vector.
void match_nodes(const Nodes& words, int64_t c0, int64_t c1, const Nodes& regions, int64_t i0, int64_t i1,
                 const Attention& attention, float* x_t, float* x_v);

}  // namespace sm::gsmn_cpu
