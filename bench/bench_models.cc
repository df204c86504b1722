// Encoding and training throughput of the registered models on random data of
// the real shapes (36 regions x 2048 features, 12-word captions, batch 128).
//   build/bench_models [--model=NAME] [--preset=cpu|paper] [--threads=N] [benchmark flags]
// Reports images/s and captions/s encoded (inference, batches of 128) and
// training steps/s at batch 128 (forward, backward, gradient clip, Adam step).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstring>

#include "scenematch/core/runtime.h"
#include "scenematch/models/matcher.h"

using namespace sm;

namespace {

constexpr int64_t kBatch = 128, kRegions = 36, kFeatures = 2048, kWords = 12, kObjects = 10, kRelations = 10,
                  kTriplets = 4, kPhrase = 3;

// Paper-sized vocabularies are about Flickr30K's with min count 4; the cpu
// preset's is about the small synthetic world's.
int64_t vocab_size(const std::string& preset) { return preset == "paper" ? 8500 : 600; }

Vocab make_vocab(int64_t size) {
  std::vector<std::string> words;
  for (int64_t i = 2; i < size; ++i) words.push_back("w" + std::to_string(i));
  return Vocab::build({words}, 1);
}

ImageBatch random_images(const DataNeeds& needs, int64_t vocab) {
  ImageBatch b;
  for (int64_t i = 0; i < kBatch; ++i) b.ids.push_back(i);
  b.features = torch::rand({kBatch, kRegions, kFeatures});
  b.region_mask = torch::ones({kBatch, kRegions}, torch::kBool);
  if (needs.boxes) {
    auto corner = torch::rand({kBatch, kRegions, 2}) * 0.5;
    b.boxes = torch::cat({corner, corner + 0.1 + torch::rand({kBatch, kRegions, 2}) * 0.4}, 2);
  }
  if (needs.scene_graphs) {
    b.obj_region = torch::randint(0, kRegions, {kBatch, kObjects}, torch::kInt64);
    b.obj_label = torch::randint(2, vocab, {kBatch, kObjects, kPhrase}, torch::kInt64);
    b.obj_mask = torch::ones({kBatch, kObjects}, torch::kBool);
    b.rel_subject = torch::randint(0, kRegions, {kBatch, kRelations}, torch::kInt64);
    b.rel_object = torch::randint(0, kRegions, {kBatch, kRelations}, torch::kInt64);
    b.rel_predicate = torch::randint(2, vocab, {kBatch, kRelations, kPhrase}, torch::kInt64);
    b.rel_feature = torch::rand({kBatch, kRelations, kFeatures});
    b.rel_mask = torch::ones({kBatch, kRelations}, torch::kBool);
  }
  return b;
}

CaptionBatch random_captions(const DataNeeds& needs, int64_t vocab) {
  CaptionBatch b;
  for (int64_t i = 0; i < kBatch; ++i) b.ids.push_back(i);
  b.tokens = torch::randint(2, vocab, {kBatch, kWords}, torch::kInt64);
  b.lengths = torch::full({kBatch}, kWords, torch::kInt64);
  if (needs.parses) {
    b.pos = torch::randint(1, 18, {kBatch, kWords}, torch::kInt64);
    // A chain of dependency edges: every word linked to the next.
    auto chain = torch::eye(kWords, kWords, torch::kFloat32).roll(1, 1).triu(1);
    b.adjacency = (chain + chain.t()).unsqueeze(0).repeat({kBatch, 1, 1});
    b.triplets = torch::randint(2, vocab, {kBatch, kTriplets, kPhrase}, torch::kInt64);
    b.triplet_lengths = torch::full({kBatch, kTriplets}, kPhrase, torch::kInt64);
    b.triplet_mask = torch::ones({kBatch, kTriplets}, torch::kBool);
  }
  return b;
}

struct Setup {
  MatcherPtr model;
  ImageBatch images;
  CaptionBatch captions;
};

Setup make_setup(const std::string& name, const std::string& preset) {
  torch::manual_seed(0);
  Config cfg = matcher_preset(name, preset);
  cfg["feature_dim"] = kFeatures;
  const int64_t vocab = vocab_size(preset);
  Setup s;
  s.model = make_matcher(name, cfg, make_vocab(vocab));
  s.images = random_images(s.model->needs(), vocab);
  s.captions = random_captions(s.model->needs(), vocab);
  return s;
}

void encode_images(benchmark::State& state, const std::string& name, const std::string& preset) {
  Setup s = make_setup(name, preset);
  s.model->eval();
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(s.model->encode_images(s.images));
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel("images/s = items_per_second");
}

void encode_captions(benchmark::State& state, const std::string& name, const std::string& preset) {
  Setup s = make_setup(name, preset);
  s.model->eval();
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(s.model->encode_captions(s.captions));
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel("captions/s = items_per_second");
}

void train_step(benchmark::State& state, const std::string& name, const std::string& preset) {
  Setup s = make_setup(name, preset);
  const Config& cfg = s.model->config();
  s.model->train();
  torch::optim::Adam adam(s.model->parameters(), torch::optim::AdamOptions(cfg_get<double>(cfg, "lr")));
  const double clip = cfg_get<double>(cfg, "grad_clip", 0.0);
  int64_t step = 0;
  for (auto _ : state) {
    s.model->begin_step(step++, 0);
    LossOutput out = s.model->loss(s.images, s.captions);
    adam.zero_grad();
    out.total.backward();
    if (clip > 0) torch::nn::utils::clip_grad_norm_(s.model->parameters(), clip);
    adam.step();
  }
  state.counters["steps/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// Takes --NAME=VALUE out of argv (Google Benchmark rejects flags it does not know).
std::string take_flag(int& argc, char** argv, const std::string& name) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) != 0) continue;
    std::string value = argv[i] + prefix.size();
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
    return value;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  ensure_blas_kernels(argc, argv);
  const std::string model = take_flag(argc, argv, "model"), preset = take_flag(argc, argv, "preset"),
                    threads = take_flag(argc, argv, "threads");
  set_threads(threads.empty() ? 0 : std::stoi(threads));
  std::vector<std::string> models = model.empty() ? matcher_names() : std::vector<std::string>{model};
  std::vector<std::string> presets =
      preset.empty() ? std::vector<std::string>{"cpu", "paper"} : std::vector<std::string>{preset};
  try {
    for (const auto& m : models) {
      matcher_info(m);  // unknown names fail here with the list of known ones
      for (const auto& p : presets) {
        const std::string tag = m + "/" + p;
        benchmark::RegisterBenchmark(("encode_images/" + tag).c_str(), encode_images, m, p)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("encode_captions/" + tag).c_str(), encode_captions, m, p)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("train_step_b128/" + tag).c_str(), train_step, m, p)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_models: %s\n", e.what());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
