#include "scenematch/eval/similarity.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <optional>

#include "scenematch/core/process_group.h"
#include "scenematch/core/progress.h"

namespace sm {
namespace {

// Eval mode (no dropout, frozen batch-norm statistics) for the scope; the
// previous mode comes back afterwards, so validation inside training is safe.
class EvalModeScope {
 public:
  explicit EvalModeScope(Matcher& m) : model_(m), was_training_(m.is_training()) { model_.eval(); }
  ~EvalModeScope() { model_.train(was_training_); }

 private:
  Matcher& model_;
  bool was_training_;
};

void check_sizes(const SimilarityOptions& o) {
  if (o.encode_batch < 1 || o.image_block < 1 || o.caption_block < 1)
    fail("similarity options: encode_batch, image_block and caption_block must be >= 1 (got ", o.encode_batch, ", ",
         o.image_block, ", ", o.caption_block, ")");
}

template <class EncodeBatch>
Encoding encode_in_batches(Matcher& m, const std::vector<int64_t>& ids, const SimilarityOptions& o,
                           const std::string& label, EncodeBatch&& encode) {
  check_sizes(o);
  c10::InferenceMode inference;
  EvalModeScope eval_mode(m);
  std::optional<Progress> progress;
  if (o.progress) progress.emplace(label, static_cast<int64_t>(ids.size()));
  std::vector<Encoding> parts;
  for (size_t begin = 0; begin < ids.size(); begin += o.encode_batch) {
    const size_t end = std::min(ids.size(), begin + static_cast<size_t>(o.encode_batch));
    parts.push_back(encode(std::vector<int64_t>(ids.begin() + begin, ids.begin() + end)));
    if (progress) progress->step(static_cast<int64_t>(end - begin));
  }
  return Encoding::cat(std::move(parts));
}

std::vector<int64_t> all_ids(int64_t n) {
  std::vector<int64_t> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

}  // namespace

Encoding encode_images(Matcher& m, const Batcher& b, const std::vector<int64_t>& image_ids,
                       const SimilarityOptions& o) {
  return encode_in_batches(m, image_ids, o, "encode images", [&](const std::vector<int64_t>& ids) {
    Encoding e = m.encode_images(b.images(ids));
    // Streamed: once encoded, the rows' mapped pages leave memory, so a large
    // split keeps only its encodings resident (docs/performance.md).
    auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
    b.split().release_images(*lo, *hi + 1);
    return e;
  });
}

Encoding encode_image_batch(Matcher& m, const ImageBatch& batch) {
  c10::InferenceMode inference;
  EvalModeScope eval_mode(m);
  return m.encode_images(batch);
}

Encoding encode_captions(Matcher& m, const Batcher& b, const std::vector<int64_t>& caption_ids,
                         const SimilarityOptions& o) {
  return encode_in_batches(m, caption_ids, o, "encode captions",
                           [&](const std::vector<int64_t>& ids) { return m.encode_captions(b.captions(ids)); });
}

Encoding encode_caption_graphs(Matcher& m, const Batcher& b, const std::vector<const CaptionGraph*>& graphs,
                               const SimilarityOptions& o) {
  return encode_in_batches(m, all_ids(static_cast<int64_t>(graphs.size())), o, "encode captions",
                           [&](const std::vector<int64_t>& ids) {
                             std::vector<const CaptionGraph*> chunk;
                             for (int64_t id : ids) chunk.push_back(graphs[id]);
                             return m.encode_captions(b.captions_from(chunk, ids));
                           });
}

torch::Tensor similarity_matrix(Matcher& m, const Encoding& images, const Encoding& captions,
                                const SimilarityOptions& o) {
  check_sizes(o);
  const int64_t ni = images.size(), nc = captions.size();
  // Allocated outside inference mode: callers may update it in place (ensembles).
  torch::Tensor sims = torch::empty({ni, nc}, torch::kFloat);
  c10::InferenceMode inference;
  EvalModeScope eval_mode(m);
  std::optional<Progress> progress;
  if (o.progress) progress.emplace("score", ni, "img");
  for (int64_t i0 = 0; i0 < ni; i0 += o.image_block) {
    const int64_t i1 = std::min(ni, i0 + o.image_block);
    Encoding image_block = images.slice(i0, i1);
    for (int64_t c0 = 0; c0 < nc; c0 += o.caption_block) {
      const int64_t c1 = std::min(nc, c0 + o.caption_block);
      torch::Tensor block = m.score(image_block, captions.slice(c0, c1));
      if (block.dim() != 2 || block.size(0) != i1 - i0 || block.size(1) != c1 - c0)
        fail("model '", m.name(), "': score() returned shape ", block.sizes(), " for ", i1 - i0, " images x ", c1 - c0,
             " captions");
      sims.slice(0, i0, i1).slice(1, c0, c1).copy_(block);
    }
    if (progress) progress->step(i1 - i0);
  }
  return sims;
}

torch::Tensor similarity_matrix(Matcher& m, const Batcher& b, const SimilarityOptions& o) {
  std::vector<int64_t> image_ids = all_ids(b.split().num_images());
  if (o.group) {
    const auto [begin, end] = o.group->shard(static_cast<int64_t>(image_ids.size()));
    image_ids = std::vector<int64_t>(image_ids.begin() + begin, image_ids.begin() + end);
  }
  Encoding images = encode_images(m, b, image_ids, o);
  // Captions are encoded one block at a time and scored against every image
  // at once: each is still encoded once, but only one block of caption
  // encodings is ever held (COCO 5K: 25,000 captions), and in order of length
  // a block pads only to about its own length, not the split's longest.
  std::vector<int64_t> order = all_ids(b.split().num_captions());
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return b.caption_length(x) < b.caption_length(y); });
  const int64_t ni = images.size(), nc = static_cast<int64_t>(order.size());
  torch::Tensor sims = torch::empty({ni, nc}, torch::kFloat);
  SimilarityOptions block_options = o;
  block_options.progress = false;
  std::optional<Progress> progress;
  if (o.progress) progress.emplace("encode + score captions", nc, "caption");
  for (int64_t c0 = 0; c0 < nc; c0 += o.caption_block) {
    const int64_t c1 = std::min(nc, c0 + o.caption_block);
    std::vector<int64_t> ids(order.begin() + c0, order.begin() + c1);
    Encoding captions = encode_captions(m, b, ids, block_options);
    torch::Tensor block = similarity_matrix(m, images, captions, block_options);
    sims.index_copy_(1, torch::tensor(ids, torch::kLong), block);
    if (progress) progress->step(c1 - c0);
  }
  return o.group ? o.group->all_gather_rows(sims) : sims;
}

std::vector<torch::Tensor> score_per_image(Matcher& m, const Encoding& images, const Encoding& captions,
                                           const std::vector<std::vector<int64_t>>& captions_of_image) {
  if (static_cast<int64_t>(captions_of_image.size()) != images.size())
    fail("score_per_image: ", captions_of_image.size(), " caption lists for ", images.size(), " images");
  c10::InferenceMode inference;
  EvalModeScope eval_mode(m);
  std::vector<torch::Tensor> scores;
  for (int64_t k = 0; k < images.size(); ++k) {
    const auto& rows = captions_of_image[k];
    if (rows.empty()) {
      scores.push_back(torch::empty({0}, torch::kFloat));
      continue;
    }
    torch::Tensor block = m.score(images.slice(k, k + 1), captions.index(torch::tensor(rows, torch::kLong)));
    scores.push_back(block.reshape({-1}).to(torch::kCPU, torch::kFloat));
  }
  return scores;
}

}  // namespace sm
