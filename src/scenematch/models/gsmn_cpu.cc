#include "scenematch/models/gsmn_cpu.h"

#include <ATen/Parallel.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace sm::gsmn_cpu {
namespace {

// Captions x images per tile: the tile's t block products (t x 4L x 4R
// floats, 442 KB at the paper's sizes) stay in a 1 MB L2 cache between the
// GEMMs that write them and the attention that reads them twice.
constexpr int64_t kTileCaptions = 4, kTileImages = 4;

// Per-thread buffers, kept between calls, so that no tile allocates.
struct Workspace {
  std::vector<float> products, a_t2i, a_i2t, quadratic, logits_t2i, logits_i2t, attention_i2t, sums, dots;
};

void gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
          int64_t ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), 1.f, a, int(lda), b, int(ldb), 0.f, c,
              int(ldc));
}

// Where one caption-image pair's results go.
struct PairOut {
  float* a_t2i;  // L rows of R: each word's attention over the regions
  float* a_i2t;  // R rows of L: each region's attention over the words
  float* x_t;    // word w's t dot products at x_t + w * x_t_stride
  int64_t x_t_stride;
  float* x_v;  // region r's at x_v + r * x_v_stride
  int64_t x_v_stride;
};

// One pair, from its L x R tile of every block product P_b: the similarity
// S = sum_b P_b, the (clipped) logits, both softmaxes (Eqs. 3 and 5), and the
// block dot products u_wb . c_wb = sum_r A[w,r] P_b[w,r] (and the region-side
// ones), which item_cosines turns into Eq. 4's cosines.
void attend_pair(const float* tile, int64_t row, int64_t block, int64_t t, int64_t L, int64_t R,
                 const bool* region_keep, const bool* word_keep, const Attention& attention, Workspace& ws,
                 const PairOut& out) {
  float* s = ws.logits_t2i.data();  // S first, then the word-query logits in place
  float* li = ws.logits_i2t.data();
  float* ai = ws.attention_i2t.data();  // [w][r], transposed into out.a_i2t at the end
  float* sums = ws.sums.data();         // per region: norms, then maxima, then sums
  std::fill(s, s + L * R, 0.f);
  for (int64_t b = 0; b < t; ++b)
    for (int64_t w = 0; w < L; ++w) {
      const float* prow = tile + b * block + w * row;
      float* srow = s + w * R;
#pragma omp simd
      for (int64_t r = 0; r < R; ++r) srow[r] += prow[r];
    }
  if (attention.clipped) {
    // SCAN's clipped l2norm, as gsmn.cc's l2norm_padded: LeakyReLU, then L2 over the query axis.
    auto inverse_norm = [](float sq) { return 1.f / (std::sqrt(std::max(sq, float(kNormFloor))) + float(kNormEps)); };
    std::fill(sums, sums + R, 0.f);
    for (int64_t w = 0; w < L; ++w) {
      float* srow = s + w * R;
      float sq = 0;
#pragma omp simd reduction(+ : sq)
      for (int64_t r = 0; r < R; ++r) {
        srow[r] = srow[r] > 0 ? srow[r] : 0.1f * srow[r];
        sq += srow[r] * srow[r];
        sums[r] += srow[r] * srow[r];
      }
      float scale = inverse_norm(sq);
#pragma omp simd
      for (int64_t r = 0; r < R; ++r) li[w * R + r] = srow[r] * scale;
    }
    for (int64_t r = 0; r < R; ++r) sums[r] = inverse_norm(sums[r]);
    for (int64_t w = 0; w < L; ++w)
#pragma omp simd
      for (int64_t r = 0; r < R; ++r) s[w * R + r] *= sums[r];
  } else {
    std::copy(s, s + L * R, li);
  }
  const float lambda = attention.lambda;
  // Eq. 3: each word's softmax over the image's present regions.
  for (int64_t w = 0; w < L; ++w) {
    const float* logits = s + w * R;
    float* a = out.a_t2i + w * R;
    float top = -std::numeric_limits<float>::infinity();
    for (int64_t r = 0; r < R; ++r) {
      a[r] = region_keep[r] ? lambda * logits[r] : kMaskedLogit;
      top = std::max(top, a[r]);
    }
    float sum = 0;
    for (int64_t r = 0; r < R; ++r) sum += a[r] = std::exp(a[r] - top);
    for (int64_t r = 0; r < R; ++r) a[r] /= sum;
  }
  // Eq. 5: each region's softmax over the caption's words, computed a word row at a time.
  std::fill(sums, sums + R, -std::numeric_limits<float>::infinity());
  for (int64_t w = 0; w < L; ++w)
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) {
      ai[w * R + r] = word_keep[w] ? lambda * li[w * R + r] : kMaskedLogit;
      sums[r] = std::max(sums[r], ai[w * R + r]);
    }
  for (int64_t w = 0; w < L; ++w)
    for (int64_t r = 0; r < R; ++r) ai[w * R + r] = std::exp(ai[w * R + r] - sums[r]);
  std::fill(sums, sums + R, 0.f);
  for (int64_t w = 0; w < L; ++w)
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) sums[r] += ai[w * R + r];
  for (int64_t w = 0; w < L; ++w)
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) ai[w * R + r] /= sums[r];
  // Block dot products of each query with its attended vector.
  float* dots = ws.dots.data();  // [b][r]
  std::fill(dots, dots + t * R, 0.f);
  for (int64_t w = 0; w < L; ++w) {
    const float *a = out.a_t2i + w * R, *arow_i2t = ai + w * R;
    for (int64_t b = 0; b < t; ++b) {
      const float* prow = tile + b * block + w * row;
      float* drow = dots + b * R;
      float dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t r = 0; r < R; ++r) {
        dot += a[r] * prow[r];
        drow[r] += arow_i2t[r] * prow[r];
      }
      out.x_t[w * out.x_t_stride + b] = dot;
    }
  }
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t b = 0; b < t; ++b) out.x_v[r * out.x_v_stride + b] = dots[b * R + r];
    for (int64_t w = 0; w < L; ++w) out.a_i2t[r * L + w] = ai[w * R + r];
  }
}

// Eq. 4 for the queries of one item (an image's regions seen from `rows`
// word queries, or a caption's words from region queries): the cosine of each
// query's block b with its attended vector's block, |c_b|^2 = a . m[b] where
// m = a G (t x keys) are the attention row's quadratic forms with the item's
// Gram matrices `gram` (keys x t*keys). `x` holds the dot products;
// place(q) gives the offsets of query q's t values in x and in n2.
template <typename Place>
void item_cosines(const float* a, int64_t rows, int64_t keys, int64_t t, const float* gram, const float* n2, float* x,
                  float* m, Place place) {
  gemm(rows, t * keys, keys, a, keys, gram, t * keys, m, t * keys);
  for (int64_t q = 0; q < rows; ++q) {
    const float *arow = a + q * keys, *mrow = m + q * t * keys;
    auto [x_at, n2_at] = place(q);
    for (int64_t b = 0; b < t; ++b) {
      float c2 = 0;
#pragma omp simd reduction(+ : c2)
      for (int64_t k = 0; k < keys; ++k) c2 += mrow[b * keys + k] * arow[k];
      x[x_at + b] /= std::sqrt(std::max(n2[n2_at + b] * c2, float(kCosEps * kCosEps)));
    }
  }
}

}  // namespace

void match_nodes(const Nodes& words, int64_t c0, int64_t c1, const Nodes& regions, int64_t i0, int64_t i1,
                 const Attention& attention, float* x_t, float* x_v) {
  const int64_t t = attention.blocks, db = attention.block_dim, L = words.nodes, R = regions.nodes;
  const int64_t bc = c1 - c0, bi = i1 - i0;
  const int64_t caption_tiles = (bc + kTileCaptions - 1) / kTileCaptions;
  const int64_t image_tiles = (bi + kTileImages - 1) / kTileImages;
  at::parallel_for(0, caption_tiles * image_tiles, 1, [&](int64_t begin, int64_t end) {
    thread_local Workspace ws;
    ws.products.resize(t * kTileCaptions * L * kTileImages * R);
    ws.a_t2i.resize(kTileCaptions * L * kTileImages * R);
    ws.a_i2t.resize(kTileCaptions * L * kTileImages * R);
    ws.quadratic.resize(std::max(kTileCaptions * L * t * R, kTileImages * R * t * L));
    for (auto* v : {&ws.logits_t2i, &ws.logits_i2t, &ws.attention_i2t}) v->resize(L * R);
    ws.sums.resize(R);
    ws.dots.resize(t * R);
    for (int64_t tile = begin; tile < end; ++tile) {
      // Captions [tc0, tc0 + tc) and images [ti0, ti0 + ti), relative to c0 and i0.
      const int64_t tc0 = tile / image_tiles * kTileCaptions, ti0 = tile % image_tiles * kTileImages;
      const int64_t tc = std::min(kTileCaptions, bc - tc0), ti = std::min(kTileImages, bi - ti0);
      const int64_t rows = tc * L, cols = ti * R, block = rows * cols;
      float* p = ws.products.data();
      // P_b = U_b V_b^T: block b is columns [b * db, (b + 1) * db) of the word vectors.
      const int64_t d = t * db;
      for (int64_t b = 0; b < t; ++b)
        gemm(rows, cols, db, words.vectors + (c0 + tc0) * L * d + b * db, d,
             regions.vectors + b * db * regions.count * R + (i0 + ti0) * R, regions.count * R, p + b * block, cols);
      // a_t2i (ti, rows, R) and a_i2t (tc, cols, L): each item's queries as the rows of one GEMM below.
      for (int64_t c = 0; c < tc; ++c)
        for (int64_t i = 0; i < ti; ++i) {
          PairOut out{ws.a_t2i.data() + (i * rows + c * L) * R, ws.a_i2t.data() + (c * cols + i * R) * L,
                      x_t + ((tc0 + c) * L * bi + ti0 + i) * t, bi * t,
                      x_v + ((ti0 + i) * R * bc + tc0 + c) * t, bc * t};
          attend_pair(p + c * L * cols + i * R, cols, block, t, L, R, regions.keep + (i0 + ti0 + i) * R,
                      words.keep + (c0 + tc0 + c) * L, attention, ws, out);
        }
      float* m = ws.quadratic.data();
      using Offsets = std::pair<int64_t, int64_t>;
      for (int64_t i = 0; i < ti; ++i)
        item_cosines(ws.a_t2i.data() + i * rows * R, rows, R, t, regions.gram + (i0 + ti0 + i) * R * t * R, words.norm2,
                     x_t, m, [&](int64_t q) {
                       const int64_t c = q / L, w = q % L;
                       return Offsets{(((tc0 + c) * L + w) * bi + ti0 + i) * t, ((c0 + tc0 + c) * L + w) * t};
                     });
      for (int64_t c = 0; c < tc; ++c)
        item_cosines(ws.a_i2t.data() + c * cols * L, cols, L, t, words.gram + (c0 + tc0 + c) * L * t * L, regions.norm2,
                     x_v, m, [&](int64_t q) {
                       const int64_t i = q / R, r = q % R;
                       return Offsets{(((ti0 + i) * R + r) * bc + tc0 + c) * t, ((i0 + ti0 + i) * R + r) * t};
                     });
    }
  });
}

}  // namespace sm::gsmn_cpu
