#include "scenematch/data/batcher.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <numeric>

#include "scenematch/core/error.h"
#include "scenematch/data/tokenizer.h"

namespace sm {

namespace {

using Ids = std::vector<int64_t>;

Ids word_ids(const Vocab& vocab, const std::vector<std::string>& words) {
  Ids ids;
  ids.reserve(words.size());
  for (const auto& w : words) ids.push_back(vocab.id(w));
  return ids;
}

Ids phrase_ids(const Vocab& vocab, const std::string& phrase) { return word_ids(vocab, tokenize(phrase)); }

// Copies rows of ids into a 0-padded (rows, width) block starting at out.
void fill_padded(int64_t* out, const std::vector<Ids>& rows, int64_t width) {
  for (size_t r = 0; r < rows.size(); ++r) std::copy(rows[r].begin(), rows[r].end(), out + r * width);
}

int64_t longest(const std::vector<std::vector<Ids>>& groups) {
  int64_t w = 1;
  for (const auto& g : groups)
    for (const auto& ids : g) w = std::max<int64_t>(w, static_cast<int64_t>(ids.size()));
  return w;
}

int64_t most(const std::vector<std::vector<Ids>>& groups) {
  int64_t n = 1;  // never 0: models index these tensors without special cases
  for (const auto& g : groups) n = std::max<int64_t>(n, static_cast<int64_t>(g.size()));
  return n;
}

void check_finite(const torch::Tensor& rows, const std::string& path, const std::vector<int64_t>& ids) {
  if (torch::isfinite(rows).all().item<bool>()) return;
  auto bad = torch::logical_not(torch::isfinite(rows)).flatten(1).any(1);
  for (size_t k = 0; k < ids.size(); ++k)
    if (bad[k].item<bool>()) fail(path, ": image ", ids[k], " has NaN or Inf features");
}

// Uniform integer in [0, n) from a 64-bit engine, by rejection, so the result
// does not depend on the standard library's distributions.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % n;
}

// Fisher-Yates by hand: std::shuffle's order differs between standard
// libraries, and runs must repeat exactly from a seed.
template <class T>
void shuffle_exactly(std::vector<T>& items, std::mt19937_64& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[uniform_below(rng, i)]);
}

// Builds a caption batch; name(k) says where caption k comes from in errors.
CaptionBatch build_captions(const Vocab& vocab, const DataNeeds& needs, const std::vector<const CaptionGraph*>& graphs,
                            const std::vector<int64_t>& ids, const std::function<std::string(int64_t)>& name) {
  CaptionBatch b;
  b.ids = ids;
  const int64_t B = b.size();
  std::vector<Ids> tokens(B);
  for (int64_t k = 0; k < B; ++k) {
    const Ids words = word_ids(vocab, graphs[k]->tokens);
    if (words.empty()) fail(name(k), " has no tokens");
    if (std::all_of(words.begin(), words.end(), [&](int64_t t) { return t == vocab.unk_id(); }))
      fail(name(k), " has only unknown words");
    tokens[k] = vocab.caption_ids(graphs[k]->tokens);
  }
  int64_t L = 1;
  for (const auto& t : tokens) L = std::max<int64_t>(L, static_cast<int64_t>(t.size()));
  b.tokens = torch::zeros({B, L}, torch::kLong);
  b.lengths = torch::zeros({B}, torch::kLong);
  fill_padded(b.tokens.data_ptr<int64_t>(), tokens, L);
  auto lengths = b.lengths.accessor<int64_t, 1>();
  for (int64_t k = 0; k < B; ++k) lengths[k] = static_cast<int64_t>(tokens[k].size());
  if (!needs.parses) return b;

  b.pos = torch::zeros({B, L}, torch::kLong);
  b.adjacency = torch::zeros({B, L, L});
  auto pos = b.pos.accessor<int64_t, 2>();
  auto adj = b.adjacency.accessor<float, 3>();
  std::vector<std::vector<Ids>> triplets(B);
  const int64_t first = vocab.wraps() ? 1 : 0;  // token positions after <start>
  for (int64_t k = 0; k < B; ++k) {
    const CaptionGraph& g = *graphs[k];
    const int64_t n = static_cast<int64_t>(g.tokens.size());
    if (static_cast<int64_t>(g.pos.size()) != n)
      fail(name(k), " has ", g.pos.size(), " POS tags for ", n, " tokens (stale parse cache?)");
    for (int64_t t = 0; t < n; ++t) pos[k][first + t] = static_cast<int64_t>(g.pos[t]) + 1;
    for (const auto& [i, j] : g.edges) {
      if (i < 0 || j < 0 || i >= n || j >= n || i == j)
        fail(name(k), " has a dependency edge (", i, ", ", j, ") outside its ", n, " tokens");
      adj[k][first + i][first + j] = adj[k][first + j][first + i] = 1;
    }
    for (const auto& r : g.relations) {
      Ids words = phrase_ids(vocab, r.subject);
      for (const std::string* part : {&r.predicate, &r.object}) {
        Ids more = phrase_ids(vocab, *part);
        words.insert(words.end(), more.begin(), more.end());
      }
      triplets[k].push_back(std::move(words));
    }
  }
  const int64_t T = most(triplets), W = longest(triplets);
  b.triplets = torch::zeros({B, T, W}, torch::kLong);
  b.triplet_lengths = torch::zeros({B, T}, torch::kLong);
  b.triplet_mask = torch::zeros({B, T}, torch::kBool);
  auto triplet_lengths = b.triplet_lengths.accessor<int64_t, 2>();
  auto mask = b.triplet_mask.accessor<bool, 2>();
  for (int64_t k = 0; k < B; ++k) {
    fill_padded(b.triplets[k].data_ptr<int64_t>(), triplets[k], W);
    for (size_t t = 0; t < triplets[k].size(); ++t) {
      triplet_lengths[k][t] = static_cast<int64_t>(triplets[k][t].size());
      mask[k][t] = true;
    }
  }
  return b;
}

}  // namespace

Batcher::Batcher(const Split& split, const Vocab& vocab, const std::vector<CaptionGraph>& graphs, DataNeeds needs)
    : split_(split), vocab_(vocab), graphs_(graphs), needs_(needs) {
  if (static_cast<int64_t>(graphs.size()) != split.num_captions())
    fail("batcher: ", graphs.size(), " caption graphs for the ", split.num_captions(), " captions of ",
         split.file("caps.txt"));
  if (needs.boxes && (!split.boxes || !split.sizes))
    fail("batcher: the model needs boxes but ", split.file("ims_bbx.npy"),
         " was not loaded (load the split with LoadOptions::boxes)");
  if (needs.scene_graphs && split.scene_graphs.empty())
    fail("batcher: the model needs scene graphs but ", split.file("vsg.jsonl"),
         " was not loaded (load the split with LoadOptions::scene_graphs)");
}

int64_t Batcher::caption_length(int64_t caption_id) const {
  if (caption_id < 0 || caption_id >= static_cast<int64_t>(graphs_.size()))
    fail("caption ", caption_id, " out of range (split has ", graphs_.size(), ")");
  return static_cast<int64_t>(graphs_[caption_id].tokens.size());
}

// GSMN's release evaluation (evaluation.evalrank, not 5-fold): its dataset
// divides an image's stored boxes by the image size in place on every access
// and the loader reads each caption's row twice, so caption row r (image
// k = r / 5, loader batch r / B) holds the pixel boxes divided
// 5 + min(5, (r / B + 1) B - 5k) times; image i is then scored with row i,
// the boxes of image i / 5. Each division is float32, as NumPy's in place.
torch::Tensor Batcher::release_eval_boxes(const std::vector<int64_t>& image_ids) const {
  const int64_t B = release_box_batch_;
  if (split_.captions_per_image != 5)
    fail(split_.file("caps.txt"), ": the release's box handling assumes 5 captions per image");
  std::vector<int64_t> sources;
  for (int64_t i : image_ids) sources.push_back(i / 5);
  auto boxes = split_.boxes->gather(sources);
  auto scale = split_.sizes->wh.index_select(0, torch::tensor(sources)).repeat({1, 2}).unsqueeze(1);
  for (size_t n = 0; n < image_ids.size(); ++n) {
    const int64_t r = image_ids[n], k = sources[n];
    const int64_t times = 5 + std::min<int64_t>(5, (r / B + 1) * B - 5 * k);
    auto row = boxes[n];
    for (int64_t t = 0; t < times; ++t) row.div_(scale[n]);
  }
  return boxes;
}

ImageBatch Batcher::images(const std::vector<int64_t>& image_ids) const {
  ImageBatch b;
  b.ids = image_ids;
  const int64_t B = b.size();
  b.features = split_.images.gather(image_ids);
  // Feature files are too big to scan at load time; each batch is checked as
  // it is read.
  check_finite(b.features, split_.images.path(), image_ids);
  b.region_mask = torch::ones({B, b.features.size(1)}, torch::kBool);

  if (needs_.boxes && release_box_batch_ > 0) {
    b.boxes = release_eval_boxes(image_ids);
  } else if (needs_.boxes) {
    auto boxes = split_.boxes->gather(image_ids);
    auto sizes = split_.sizes->wh.index_select(0, torch::tensor(image_ids));  // (B, 2) width, height
    auto scale = sizes.repeat({1, 2}).unsqueeze(1);                           // (B, 1, 4) w, h, w, h
    // The loader accepts corners up to 1 px outside the image; clamping keeps
    // the promised [0, 1] range.
    b.boxes = (boxes / scale).clamp(0, 1);
  }

  if (needs_.scene_graphs) {
    std::vector<std::vector<Ids>> labels(B), predicates(B);
    for (int64_t k = 0; k < B; ++k) {
      const SceneGraph& g = split_.scene_graphs.at(image_ids[k]);
      for (const auto& o : g.objects) labels[k].push_back(phrase_ids(vocab_, o.label));
      for (const auto& r : g.relations) predicates[k].push_back(phrase_ids(vocab_, r.predicate));
    }
    const int64_t O = most(labels), P = most(predicates);
    const int64_t WO = longest(labels), WP = longest(predicates);
    auto l = torch::kLong;
    b.obj_region = torch::zeros({B, O}, l);
    b.obj_label = torch::zeros({B, O, WO}, l);
    b.obj_mask = torch::zeros({B, O}, torch::kBool);
    b.rel_subject = torch::zeros({B, P}, l);
    b.rel_object = torch::zeros({B, P}, l);
    b.rel_predicate = torch::zeros({B, P, WP}, l);
    b.rel_mask = torch::zeros({B, P}, torch::kBool);
    auto obj_region = b.obj_region.accessor<int64_t, 2>();
    auto obj_mask = b.obj_mask.accessor<bool, 2>();
    auto rel_subject = b.rel_subject.accessor<int64_t, 2>();
    auto rel_object = b.rel_object.accessor<int64_t, 2>();
    auto rel_mask = b.rel_mask.accessor<bool, 2>();
    for (int64_t k = 0; k < B; ++k) {
      const SceneGraph& g = split_.scene_graphs[image_ids[k]];
      for (size_t o = 0; o < g.objects.size(); ++o) {
        obj_region[k][o] = g.objects[o].region;
        obj_mask[k][o] = true;
      }
      for (size_t r = 0; r < g.relations.size(); ++r) {
        rel_subject[k][r] = g.relations[r].subject;
        rel_object[k][r] = g.relations[r].object;
        rel_mask[k][r] = true;
      }
      fill_padded(b.obj_label[k].data_ptr<int64_t>(), labels[k], WO);
      fill_padded(b.rel_predicate[k].data_ptr<int64_t>(), predicates[k], WP);
    }
    bool any_union = false;
    for (int64_t k = 0; k < B && !any_union; ++k)
      for (const auto& r : split_.scene_graphs[image_ids[k]].relations) any_union |= r.union_region >= 0;
    if (!split_.relation_features && any_union) {
      // A region that covers the union box stands in for it (both ends point at it); other relations take
      // the mean of their two regions, as the model does when no relation has a union feature.
      torch::Tensor first = b.rel_subject.clone(), second = b.rel_object.clone();
      auto f = first.accessor<int64_t, 2>();
      auto sc = second.accessor<int64_t, 2>();
      for (int64_t k = 0; k < B; ++k) {
        const auto& relations = split_.scene_graphs[image_ids[k]].relations;
        for (size_t r = 0; r < relations.size(); ++r)
          if (relations[r].union_region >= 0) f[k][r] = sc[k][r] = relations[r].union_region;
      }
      auto rows = [&](const torch::Tensor& idx) {
        return b.features.gather(1, idx.unsqueeze(-1).expand({B, P, b.features.size(2)}));
      };
      b.rel_feature = (rows(first) + rows(second)) / 2 * b.rel_mask.unsqueeze(-1);
    }
    if (split_.relation_features) {
      auto rel = split_.relation_features->gather(image_ids);  // (B, P_file, F)
      check_finite(rel, split_.relation_features->path(), image_ids);
      b.rel_feature = torch::zeros({B, P, rel.size(2)});
      const int64_t keep = std::min(P, rel.size(1));  // the loader checked no image has more relations
      b.rel_feature.narrow(1, 0, keep).copy_(rel.narrow(1, 0, keep));
    }
  }
  return b;
}

CaptionBatch Batcher::captions(const std::vector<int64_t>& caption_ids) const {
  std::vector<const CaptionGraph*> graphs;
  graphs.reserve(caption_ids.size());
  for (int64_t c : caption_ids) {
    if (c < 0 || c >= split_.num_captions())
      fail("batcher: caption ", c, " out of range (", split_.file("caps.txt"), " has ", split_.num_captions(),
           " captions)");
    graphs.push_back(&graphs_[c]);
  }
  // Caption c is line c + 1 of the caption file.
  return build_captions(vocab_, needs_, graphs, caption_ids, [&](int64_t k) {
    return cat(split_.file("caps.txt"), ":", caption_ids[k] + 1, ": caption ", caption_ids[k]);
  });
}

CaptionBatch Batcher::captions_from(const std::vector<const CaptionGraph*>& graphs,
                                    const std::vector<int64_t>& ids) const {
  if (graphs.size() != ids.size()) fail("batcher: ", graphs.size(), " captions but ", ids.size(), " ids");
  return build_captions(vocab_, needs_, graphs, ids, [&](int64_t k) { return cat("caption ", ids[k]); });
}

std::vector<std::vector<int64_t>> Batcher::epoch(int64_t batch_size, std::mt19937_64& rng) const {
  if (batch_size <= 0) fail("batcher: batch size must be positive, got ", batch_size);
  std::vector<int64_t> order(split_.num_captions());
  std::iota(order.begin(), order.end(), 0);
  shuffle_exactly(order, rng);
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < order.size(); begin += batch_size)
    batches.emplace_back(order.begin() + begin, order.begin() + std::min(order.size(), begin + batch_size));
  return batches;
}

std::vector<std::vector<int64_t>> Batcher::epoch(int64_t batch_size, int64_t captions_per_image,
                                                 std::mt19937_64& rng) const {
  if (captions_per_image == 1) return epoch(batch_size, rng);
  if (captions_per_image < 1 || captions_per_image > split_.captions_per_image)
    fail("config: captions_per_image is ", captions_per_image, "; it must be between 1 and the ",
         split_.captions_per_image, " captions an image has in ", split_.file("caps.txt"));
  if (batch_size < captions_per_image)
    fail("config: batch_size ", batch_size, " holds no group of captions_per_image = ", captions_per_image,
         "; raise batch_size or lower captions_per_image");
  const int64_t per_image = split_.captions_per_image;
  std::vector<std::vector<int64_t>> groups;
  std::vector<int64_t> own(per_image);
  for (int64_t image = 0; image < split_.num_images(); ++image) {
    std::iota(own.begin(), own.end(), image * per_image);
    shuffle_exactly(own, rng);
    for (int64_t begin = 0; begin < per_image; begin += captions_per_image)
      groups.emplace_back(own.begin() + begin, own.begin() + std::min(per_image, begin + captions_per_image));
  }
  shuffle_exactly(groups, rng);
  const size_t groups_per_batch = static_cast<size_t>(batch_size / captions_per_image);
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < groups.size(); begin += groups_per_batch) {
    std::vector<int64_t>& batch = batches.emplace_back();
    for (size_t g = begin; g < std::min(groups.size(), begin + groups_per_batch); ++g)
      batch.insert(batch.end(), groups[g].begin(), groups[g].end());
  }
  return batches;
}

}  // namespace sm
