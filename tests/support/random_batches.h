// Random image and caption batches and small vocabularies for the model
// tests. Every generator draws in one fixed order (features, boxes, scene
// graph; lengths, tokens, POS tags, dependency edges, triplets), and what a
// test needs is switched on through its spec, so one seed gives one batch.
// The paper-shaped generators of eval/throughput.h (every region present,
// every caption full) stay the benchmarks'.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <optional>
#include <utility>

#include "scenematch/data/batch.h"
#include "scenematch/data/caption_graph.h"
#include "scenematch/data/vocab.h"
#include "scenematch/eval/throughput.h"
#include "scenematch/models/matcher.h"

namespace sm::testing {

// `size` ids: the specials and the words "w2".."w<size-1>" (models read only the size).
inline Vocab numbered_vocab(int64_t size) { return synthetic_vocab(size); }

// Number of present items of batch row i (regions, words, triplets); the rest are masked.
using CountOf = std::function<int64_t(int64_t)>;

// Row i has `full - i % period` items: 0, 1, ... period-1 fewer, repeating.
inline CountOf fewer_each(int64_t full, int64_t period) {
  return [=](int64_t i) { return full - i % period; };
}

struct ImageSpec {
  int64_t regions = 6, features = 16;
  CountOf present;     // regions present in image i (masked after them); all when empty
  bool boxes = false;  // (x1, y1, x2, y2): corner in [0, 0.6), size in [0.01, 0.41)
  // Scene graph (when objects or relations > 0): labels and predicates of
  // `label_words` word ids in [2, vocab), pointing at regions [0, graph_regions).
  int64_t objects = 0, relations = 0, label_words = 2, vocab = 0, graph_regions = 0;
  bool one_word_labels = false;  // about half the object labels keep only their first word
};

inline ImageBatch random_images(int64_t n, const ImageSpec& s, std::optional<uint64_t> seed = std::nullopt) {
  if (seed) torch::manual_seed(*seed);
  ImageBatch b;
  for (int64_t i = 0; i < n; ++i) b.ids.push_back(i);
  b.features = torch::randn({n, s.regions, s.features});
  b.region_mask = torch::ones({n, s.regions}, torch::kBool);
  if (s.present)
    for (int64_t i = 0; i < n; ++i) b.region_mask[i].slice(0, s.present(i), s.regions) = false;
  if (s.boxes) {
    auto corner = torch::rand({n, s.regions, 2}) * 0.6, size = torch::rand({n, s.regions, 2}) * 0.4 + 0.01;
    b.boxes = torch::cat({corner, corner + size}, 2);
  }
  if (s.objects > 0 || s.relations > 0) {
    const int64_t graph_regions = s.graph_regions > 0 ? s.graph_regions : s.regions;
    b.obj_region = torch::randint(0, graph_regions, {n, s.objects}, torch::kInt64);
    b.obj_label = torch::randint(2, s.vocab, {n, s.objects, s.label_words}, torch::kInt64);
    if (s.one_word_labels) b.obj_label.select(2, 1).masked_fill_(torch::rand({n, s.objects}) < 0.5, 0);
    b.obj_mask = torch::ones({n, s.objects}, torch::kBool);
    b.rel_subject = torch::randint(0, graph_regions, {n, s.relations}, torch::kInt64);
    b.rel_object = torch::randint(0, graph_regions, {n, s.relations}, torch::kInt64);
    b.rel_predicate = torch::randint(2, s.vocab, {n, s.relations, s.label_words}, torch::kInt64);
    b.rel_feature = torch::randn({n, s.relations, s.features});
    b.rel_mask = torch::ones({n, s.relations}, torch::kBool);
  }
  return b;
}

struct CaptionSpec {
  int64_t words = 7;            // padded length
  int64_t vocab = 22;           // token ids in [2, vocab); padding holds 0 as the batcher writes it
  CountOf length;               // caption i's length; when empty, see min_words
  int64_t min_words = 0;        // > 0 (and no `length`): lengths uniform in [min_words, words], caption 0 full
  bool pos = false;             // POS ids in [1, kNumPos], 0 on padding
  double edge_probability = 0;  // > 0: symmetric random dependency edges (adjacency) between real words
  // Triplets (when > 0): `triplets` paths of 3..path_words word ids, caption i having
  // `triplet_count(i)` of them (all when empty).
  int64_t triplets = 0, path_words = 4;
  CountOf triplet_count;
};

inline CaptionBatch random_captions(int64_t n, const CaptionSpec& s, std::optional<uint64_t> seed = std::nullopt) {
  if (seed) torch::manual_seed(*seed);
  CaptionBatch b;
  for (int64_t i = 0; i < n; ++i) b.ids.push_back(i);
  if (s.length) {
    b.lengths = torch::empty({n}, torch::kInt64);
    for (int64_t i = 0; i < n; ++i) b.lengths[i] = s.length(i);
  } else if (s.min_words > 0) {
    b.lengths = torch::randint(s.min_words, s.words + 1, {n}, torch::kInt64);
    if (n > 0) b.lengths[0] = s.words;
  } else {
    b.lengths = torch::full({n}, s.words, torch::kInt64);
  }
  b.tokens = torch::randint(2, s.vocab, {n, s.words}, torch::kInt64);
  const torch::Tensor padding = b.word_mask().logical_not();
  b.tokens.masked_fill_(padding, 0);
  if (s.pos) b.pos = torch::randint(1, kNumPos + 1, {n, s.words}, torch::kInt64).masked_fill_(padding, 0);
  if (s.edge_probability > 0) {
    auto edges = (torch::rand({n, s.words, s.words}) < s.edge_probability).to(torch::kFloat).triu(1);
    auto real = padding.logical_not();
    auto pair = (real.unsqueeze(2) & real.unsqueeze(1)).to(torch::kFloat);
    b.adjacency = (edges + edges.transpose(1, 2)) * pair;
  }
  if (s.triplets > 0) {
    b.triplet_lengths = torch::randint(3, s.path_words + 1, {n, s.triplets}, torch::kInt64);
    if (s.triplet_count)
      for (int64_t i = 0; i < n; ++i) b.triplet_lengths[i].slice(0, s.triplet_count(i), s.triplets) = 0;
    b.triplet_mask = b.triplet_lengths > 0;
    auto in_path = torch::arange(s.path_words).view({1, 1, -1}) < b.triplet_lengths.unsqueeze(-1);
    b.triplets = torch::randint(2, s.vocab, {n, s.triplets, s.path_words}, torch::kInt64).masked_fill(~in_path, 0);
  }
  return b;
}

// What the embedding models' tests feed: n images with every one of `regions`
// regions present, n captions of exactly `words` tokens from [2, vocab).
inline ImageBatch full_images(int64_t n, int64_t regions, int64_t features) {
  ImageSpec s;
  s.regions = regions;
  s.features = features;
  return random_images(n, s);
}
inline CaptionBatch full_captions(int64_t n, int64_t words, int64_t vocab) {
  CaptionSpec s;
  s.words = words;
  s.vocab = vocab;
  return random_captions(n, s);
}

// Two images of `regions` regions built as the synthetic world builds them,
// before its ReLU: a category prototype per region plus, on regions 0 and 1,
// the prototype of the role each plays ("subject of" / "object of" one
// relation). In the second image the two roles are exchanged ("a man chasing
// a dog" against "a dog chasing a man"); the multiset of prototypes is the same.
inline std::pair<ImageBatch, ImageBatch> role_swapped_images(int64_t regions, int64_t features, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor category = torch::randn({regions, features}), subject = torch::randn({features}),
                      object = torch::randn({features});
  auto image = [&](const torch::Tensor& role0, const torch::Tensor& role1) {
    ImageBatch b;
    b.ids = {0};
    b.features = category.clone();
    b.features[0] += role0;
    b.features[1] += role1;
    b.features = b.features.unsqueeze(0);
    b.region_mask = torch::ones({1, regions}, torch::kBool);
    return b;
  };
  return {image(subject, object), image(object, subject)};
}

// How far exchanging the two roles moves model m's image embedding "emb"
// (m in eval mode): 0 for a model blind to which region holds which role.
inline double role_swap_shift(Matcher& m, int64_t regions, int64_t features) {
  m.eval();
  const auto [image, swapped] = role_swapped_images(regions, features, 4);
  return (m.encode_images(image).at("emb") - m.encode_images(swapped).at("emb")).norm().item<double>();
}

}  // namespace sm::testing
