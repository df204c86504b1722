// Base of the models whose score is the dot product of one vector per image
// and one per caption (VSE++, HREM, ALGR): both encodings carry it as "emb",
// L2-normalised, so an exact vector index answers retrieval by itself.
#pragma once
#include "scenematch/models/matcher.h"

namespace sm {

class EmbeddingMatcher : public Matcher {
 public:
  using Matcher::Matcher;

  // (Ni, Nc) = images["emb"] . captions["emb"]^T
  torch::Tensor score(const Encoding& images, const Encoding& captions) override;
  bool embedding_scores() const final { return true; }
  torch::Tensor global_embedding(const Encoding& encoding, bool is_image) const final { return encoding.at("emb"); }
};

// FLOPs of one pair's score: a dot product of two embed_size vectors.
double embedding_score_flops(const Config& config, const PairShape& shape);

}  // namespace sm
