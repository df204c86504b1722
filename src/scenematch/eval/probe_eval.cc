#include "scenematch/eval/probe_eval.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>

#include "scenematch/core/process_group.h"
#include "scenematch/eval/ensemble.h"
#include "scenematch/text/parse_cache.h"

namespace sm {

Json ProbeReport::to_json() const {
  auto entry = [](const ProbeAccuracy& a) {
    Json j{{"accuracy", a.accuracy}, {"count", a.count}};
    if (a.blind) j["blind_accuracy"] = *a.blind;
    return j;
  };
  Json j = Json::object();
  for (const auto& [kind, a] : kinds) j[kind] = entry(a);
  j["all"] = entry(all);
  return j;
}

ImageBatch mean_image(const Batcher& b) {
  const int64_t n = b.split().num_images();
  if (n == 0) fail(b.split().file("ims.npy"), ": no images to average");
  ImageBatch blind = b.images({0});
  // Sums and counts of the present slots, one block of images at a time. A
  // block pads its relations to its own most, so relation sums grow to the
  // longest block (zeros past a shorter one's end).
  torch::Tensor features, regions, boxes, relations, relation_count;
  auto add = [](torch::Tensor& sum, torch::Tensor x) {
    if (sum.defined() && sum.size(0) != x.size(0)) {
      const int64_t slots = std::max(sum.size(0), x.size(0));
      auto grow = [slots](const torch::Tensor& t) {
        std::vector<int64_t> pad(2 * t.dim(), 0);
        pad.back() = slots - t.size(0);  // after the last slot of dim 0
        return torch::constant_pad_nd(t, pad);
      };
      sum = grow(sum);
      x = grow(x);
    }
    sum = sum.defined() ? sum + x : x;
  };
  const int64_t block = 128;
  for (int64_t begin = 0; begin < n; begin += block) {
    std::vector<int64_t> ids;
    for (int64_t i = begin; i < std::min(n, begin + block); ++i) ids.push_back(i);
    const ImageBatch batch = b.images(ids);
    const torch::Tensor present = batch.region_mask.unsqueeze(2).to(torch::kFloat);
    add(features, (batch.features * present).sum(0));
    add(regions, present.sum(0));
    if (batch.boxes.defined()) add(boxes, (batch.boxes * present).sum(0));
    if (batch.rel_feature.defined()) {
      const torch::Tensor has = batch.rel_mask.unsqueeze(2).to(torch::kFloat);
      add(relations, (batch.rel_feature * has).sum(0));
      add(relation_count, has.sum(0));
    }
    b.split().release_images(ids.front(), ids.back() + 1);
  }
  blind.features = (features / regions.clamp_min(1)).unsqueeze(0);
  blind.region_mask = regions.squeeze(1).gt(0).unsqueeze(0);
  if (boxes.defined()) blind.boxes = (boxes / regions.clamp_min(1)).unsqueeze(0);
  // The scene graph stays the first image's (its objects, relations and
  // their ends), so its relations keep their own slots of the mean.
  if (relations.defined())
    blind.rel_feature = (relations / relation_count.clamp_min(1)).narrow(0, 0, blind.rel_mask.size(1)).unsqueeze(0);
  const int64_t unk = b.vocab().unk_id();
  auto unknown = [&](torch::Tensor& words) {
    if (words.defined()) words = torch::where(words.ne(0), torch::full_like(words, unk), words);
  };
  unknown(blind.obj_label);
  unknown(blind.rel_predicate);
  return blind;
}

void add_blind(ProbeReport& report, const ProbeReport& blind) {
  for (auto& [kind, a] : report.kinds) {
    auto it = blind.kinds.find(kind);
    if (it != blind.kinds.end()) a.blind = it->second.accuracy;
  }
  report.all.blind = blind.all.accuracy;
}

namespace {

// Scores of `probes` (their captions' graphs in `graphs`, probe p's from
// first[p]); the work of probe_scores on one process.
std::vector<std::vector<float>> score_probes(Matcher& m, const Batcher& b, const std::vector<Probe>& probes,
                                             const std::vector<const CaptionGraph*>& graphs,
                                             const std::vector<size_t>& first, const SimilarityOptions& o, bool blind) {
  Encoding captions = encode_caption_graphs(m, b, graphs, o);
  std::vector<int64_t> images;
  for (const auto& p : probes) images.push_back(p.image);
  std::sort(images.begin(), images.end());
  images.erase(std::unique(images.begin(), images.end()), images.end());
  auto slot_of = [&](int64_t image) { return std::lower_bound(images.begin(), images.end(), image) - images.begin(); };
  std::vector<std::vector<int64_t>> rows(images.size());
  for (size_t p = 0; p < probes.size(); ++p)
    for (size_t k = 0; k <= probes[p].negatives.size(); ++k)
      rows[slot_of(probes[p].image)].push_back(static_cast<int64_t>(first[p] + k));
  // Blind: the one encoding of mean_image stands in every image's row.
  const Encoding image_encodings = blind ? encode_image_batch(m, mean_image(b))
                                               .index(torch::zeros({static_cast<int64_t>(images.size())}, torch::kLong))
                                         : encode_images(m, b, images, o);
  std::vector<torch::Tensor> image_scores = score_per_image(m, image_encodings, captions, rows);

  std::vector<float> flat(graphs.size());
  for (size_t k = 0; k < rows.size(); ++k) {
    auto s = image_scores[k].accessor<float, 1>();
    for (size_t r = 0; r < rows[k].size(); ++r) flat[rows[k][r]] = s[r];
  }
  std::vector<std::vector<float>> scores;
  for (size_t p = 0; p < probes.size(); ++p)
    scores.emplace_back(flat.begin() + first[p], flat.begin() + first[p] + 1 + probes[p].negatives.size());
  return scores;
}

}  // namespace

std::vector<std::vector<float>> probe_scores(Matcher& m, const Batcher& b, const std::vector<Probe>& probes,
                                             const SimilarityOptions& o, int threads, bool blind) {
  // Every probe caption in one list: probe p's captions start at first[p].
  // Every rank parses the whole list, so the parse cache is the same file
  // whatever the number of ranks.
  std::vector<std::string> texts;
  std::vector<size_t> first;
  for (const auto& p : probes) {
    first.push_back(texts.size());
    texts.push_back(p.positive);
    texts.insert(texts.end(), p.negatives.begin(), p.negatives.end());
  }
  const std::vector<CaptionGraph> graphs =
      caption_graphs(texts, b.split().file("probes.jsonl"), m.needs().parses, threads);
  const auto [begin, end] =
      o.group ? o.group->shard(static_cast<int64_t>(probes.size())) : std::pair<int64_t, int64_t>{0, probes.size()};
  // This rank's probes, their captions' graphs, and where each one's start.
  const size_t n = probes.size();
  const size_t text_begin = static_cast<size_t>(begin) < n ? first[begin] : texts.size();
  const size_t text_end = static_cast<size_t>(end) < n ? first[end] : texts.size();
  const std::vector<Probe> local(probes.begin() + begin, probes.begin() + end);
  std::vector<size_t> local_first;
  for (int64_t p = begin; p < end; ++p) local_first.push_back(first[p] - text_begin);
  std::vector<const CaptionGraph*> graph_ptrs;
  for (size_t t = text_begin; t < text_end; ++t) graph_ptrs.push_back(&graphs[t]);
  SimilarityOptions local_options = o;
  local_options.group = nullptr;
  std::vector<std::vector<float>> scores;
  if (!local.empty()) scores = score_probes(m, b, local, graph_ptrs, local_first, local_options, blind);
  if (!o.group) return scores;

  // Every rank's scores, flattened in probe order, gathered in rank order.
  std::vector<float> flat;
  for (const auto& row : scores) flat.insert(flat.end(), row.begin(), row.end());
  const torch::Tensor gathered =
      o.group->all_gather_rows(torch::tensor(flat, torch::kFloat).reshape({-1, 1})).reshape({-1}).contiguous();
  if (gathered.numel() != static_cast<int64_t>(texts.size()))
    fail("probe: the ranks returned ", gathered.numel(), " scores for ", texts.size(), " probe captions");
  const float* all = gathered.data_ptr<float>();
  scores.clear();
  for (size_t p = 0; p < probes.size(); ++p)
    scores.emplace_back(all + first[p], all + first[p] + 1 + probes[p].negatives.size());
  return scores;
}

std::vector<std::vector<float>> ensemble_probe_scores(const std::vector<ModelData>& members, const SimilarityOptions& o,
                                                      int threads, bool blind) {
  check_same_split(members);
  std::vector<std::vector<float>> mean;
  for (const auto& member : members) {
    auto scores = probe_scores(member.model(), member.batcher(), member.split().probes, o, threads, blind);
    if (mean.empty()) {
      mean = std::move(scores);
      continue;
    }
    if (scores.size() != mean.size())
      fail("ensemble members disagree on the probes: ", members.front().source, " has ", mean.size(), ", ",
           member.source, " has ", scores.size());
    for (size_t p = 0; p < mean.size(); ++p)
      for (size_t k = 0; k < mean[p].size(); ++k) mean[p][k] += scores[p][k];
  }
  for (auto& row : mean)
    for (float& s : row) s /= static_cast<float>(members.size());
  return mean;
}

ProbeReport probe_accuracy(const std::vector<Probe>& probes, const std::vector<std::vector<float>>& scores) {
  if (scores.size() != probes.size())
    fail("probe_accuracy: ", scores.size(), " score rows for ", probes.size(), " probes");
  std::map<std::string, int64_t> correct;
  ProbeReport report;
  int64_t all_correct = 0;
  for (size_t p = 0; p < probes.size(); ++p) {
    const auto& s = scores[p];
    if (s.size() != probes[p].negatives.size() + 1)
      fail("probe_accuracy: probe ", p, " has ", s.size(), " scores for ", probes[p].negatives.size() + 1, " captions");
    // Strictly above every negative: a tie is a failure to tell them apart.
    const bool passed = std::all_of(s.begin() + 1, s.end(), [&](float neg) { return s[0] > neg; });
    std::vector<std::string> groups{probes[p].kind};
    if (!probes[p].subset.empty()) groups.push_back(probes[p].kind + " (" + probes[p].subset + ")");
    for (const std::string& group : groups) {
      ++report.kinds[group].count;
      correct[group] += passed;
    }
    all_correct += passed;
  }
  for (auto& [kind, a] : report.kinds) a.accuracy = static_cast<double>(correct[kind]) / a.count;
  report.all.count = static_cast<int64_t>(probes.size());
  report.all.accuracy = probes.empty() ? 0.0 : static_cast<double>(all_correct) / report.all.count;
  return report;
}

std::string format_probe_table(const ProbeReport& report, const std::string& title) {
  size_t width = 24;  // the longest kind, "relation-swap (text-implausible)" included
  for (const auto& [kind, a] : report.kinds) width = std::max(width, kind.size());
  auto padded = [&](const std::string& kind) { return kind + std::string(width - kind.size(), ' '); };
  const bool blind = report.all.blind.has_value();
  char buf[64];
  std::snprintf(buf, sizeof buf, " %9s%s %8s\n", "accuracy", blind ? "     blind" : "", "probes");
  std::string out = title + "\n" + padded("kind") + buf;
  auto line = [&](const std::string& kind, const ProbeAccuracy& a) {
    std::snprintf(buf, sizeof buf, " %8.2f%%", 100.0 * a.accuracy);
    out += padded(kind) + buf;
    if (blind) {
      std::snprintf(buf, sizeof buf, " %8.2f%%", 100.0 * a.blind.value_or(0));
      out += buf;
    }
    std::snprintf(buf, sizeof buf, " %8lld\n", static_cast<long long>(a.count));
    out += buf;
  };
  for (const auto& [kind, a] : report.kinds) line(kind, a);
  line("all", report.all);
  return out;
}

}  // namespace sm
