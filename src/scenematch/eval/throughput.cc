#include "scenematch/eval/throughput.h"

#include <sys/resource.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <chrono>

namespace sm {
namespace {

using Clock = std::chrono::steady_clock;

// Runs fn repeatedly for about `seconds` (at least once) and returns the best
// single-run time: the least disturbed run on a shared machine.
template <class Fn>
double best_seconds(Fn&& fn, double seconds) {
  double best = 1e30, spent = 0;
  do {
    auto t0 = Clock::now();
    fn();
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::min(best, dt);
    spent += dt;
  } while (spent < seconds);
  return best;
}

std::vector<int64_t> iota_ids(int64_t n) {
  std::vector<int64_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = i;
  return ids;
}

}  // namespace

Vocab synthetic_vocab(int64_t size) {
  std::vector<std::string> words;
  for (int64_t i = 2; i < size; ++i) words.push_back("w" + std::to_string(i));
  return Vocab::build({words}, 1);
}

ImageBatch random_images(const DataNeeds& needs, const BenchShapes& s, int64_t n) {
  ImageBatch b;
  b.ids = iota_ids(n);
  b.features = torch::rand({n, s.regions, s.features});
  b.region_mask = torch::ones({n, s.regions}, torch::kBool);
  if (needs.boxes) {
    auto corner = torch::rand({n, s.regions, 2}) * 0.5;
    b.boxes = torch::cat({corner, corner + 0.1 + torch::rand({n, s.regions, 2}) * 0.4}, 2);
  }
  if (needs.scene_graphs) {
    b.obj_region = torch::randint(0, s.regions, {n, s.objects}, torch::kInt64);
    b.obj_label = torch::randint(2, s.vocab, {n, s.objects, s.phrase}, torch::kInt64);
    b.obj_mask = torch::ones({n, s.objects}, torch::kBool);
    b.rel_subject = torch::randint(0, s.regions, {n, s.relations}, torch::kInt64);
    b.rel_object = torch::randint(0, s.regions, {n, s.relations}, torch::kInt64);
    b.rel_predicate = torch::randint(2, s.vocab, {n, s.relations, s.phrase}, torch::kInt64);
    b.rel_feature = torch::rand({n, s.relations, s.features});
    b.rel_mask = torch::ones({n, s.relations}, torch::kBool);
  }
  return b;
}

CaptionBatch random_captions(const DataNeeds& needs, const BenchShapes& s, int64_t n) {
  CaptionBatch b;
  b.ids = iota_ids(n);
  b.tokens = torch::randint(2, s.vocab, {n, s.words}, torch::kInt64);
  b.lengths = torch::full({n}, s.words, torch::kInt64);
  if (needs.parses) {
    b.pos = torch::randint(1, 18, {n, s.words}, torch::kInt64);
    // A chain of dependency edges: every word linked to the next.
    auto chain = torch::eye(s.words, s.words, torch::kFloat32).roll(1, 1).triu(1);
    b.adjacency = (chain + chain.t()).unsqueeze(0).repeat({n, 1, 1});
    b.triplets = torch::randint(2, s.vocab, {n, s.triplets, s.phrase}, torch::kInt64);
    b.triplet_lengths = torch::full({n, s.triplets}, s.phrase, torch::kInt64);
    b.triplet_mask = torch::ones({n, s.triplets}, torch::kBool);
  }
  return b;
}

MatcherPtr bench_model(const std::string& name, const std::string& preset, const BenchShapes& s) {
  torch::manual_seed(0);
  Config cfg = matcher_preset(name, preset);
  cfg["feature_dim"] = s.features;
  return make_matcher(name, cfg, synthetic_vocab(s.vocab));
}

double gemm_gflops(int64_t n, double seconds) {
  torch::manual_seed(0);
  auto a = torch::randn({n, n}), b = torch::randn({n, n}), c = torch::empty({n, n});
  double t = best_seconds([&] { torch::mm_out(c, a, b); }, seconds);
  return 2.0 * n * n * n / t / 1e9;
}

double score_flops_per_pair(const Matcher& model, const BenchShapes& s) {
  PairShape pair;
  pair.words = double(s.words);
  pair.regions = double(s.regions);
  pair.triplets = double(s.triplets);
  pair.relations = double(s.relations);
  return matcher_info(model.name()).score_flops(model.config(), pair);
}

double counted_flops(const std::function<void()>& work) {
  namespace profiler = torch::autograd::profiler;
  profiler::ProfilerConfig config(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/true,
                                  /*profile_memory=*/false, /*with_stack=*/false, /*with_flops=*/true);
  profiler::enableProfilerLegacy(config);
  try {
    work();
  } catch (...) {
    profiler::disableProfilerLegacy();
    throw;
  }
  double flops = 0;
  for (auto& events : profiler::disableProfilerLegacy())
    for (auto& event : events) flops += double(event.flops());  // flops() is not const in LibTorch 1.13
  return flops;
}

Json ModelThroughput::to_json() const {
  return Json{{"model", model},
              {"preset", preset},
              {"images_per_s", images_per_s},
              {"captions_per_s", captions_per_s},
              {"pairs_per_s", pairs_per_s},
              {"score_gflops", score_gflops},
              {"train_steps_per_s", train_steps_per_s},
              {"train_gflop_per_step", train_gflop_per_step},
              {"train_batch", train_batch}};
}

ModelThroughput measure_throughput(const std::string& name, const std::string& preset, const BenchShapes& s,
                                   int64_t image_block, int64_t caption_block, bool train, double seconds) {
  ModelThroughput r;
  r.model = name;
  r.preset = preset;
  MatcherPtr model = bench_model(name, preset, s);
  const DataNeeds needs = model->needs();
  ImageBatch images = random_images(needs, s, image_block);
  CaptionBatch captions = random_captions(needs, s, caption_block);
  {
    model->eval();
    c10::InferenceMode guard;
    ImageBatch enc_images = random_images(needs, s, s.batch);
    CaptionBatch enc_captions = random_captions(needs, s, s.batch);
    r.images_per_s = s.batch / best_seconds([&] { model->encode_images(enc_images); }, seconds);
    r.captions_per_s = s.batch / best_seconds([&] { model->encode_captions(enc_captions); }, seconds);
    Encoding ei = model->encode_images(images), ec = model->encode_captions(captions);
    r.pairs_per_s = double(image_block) * caption_block / best_seconds([&] { model->score(ei, ec); }, seconds);
    r.score_gflops = r.pairs_per_s * score_flops_per_pair(*model, s) / 1e9;
  }
  if (train) {
    model->train();
    const Config& cfg = model->config();
    r.train_batch = cfg_get<int64_t>(cfg, "batch_size", s.batch);  // the preset's (GSMN's paper batch is 64)
    ImageBatch ti = random_images(needs, s, r.train_batch);
    CaptionBatch tc = random_captions(needs, s, r.train_batch);
    torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(cfg_get<double>(cfg, "lr")));
    const double clip = cfg_get<double>(cfg, "grad_clip", 0.0);
    int64_t step = 0;
    auto train_step = [&] {
      model->begin_step(step++, 0);
      LossOutput out = model->loss(ti, tc);
      adam.zero_grad();
      out.total.backward();
      if (clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), clip);
      adam.step();
    };
    r.train_steps_per_s = 1.0 / best_seconds(train_step, seconds);
    r.train_gflop_per_step = counted_flops(train_step) / 1e9;
  }
  return r;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

}  // namespace sm
