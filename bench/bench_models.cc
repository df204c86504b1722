// Every registered model, from the registry: encoders, one evaluation block
// and the whole Flickr30K-sized test matrix, on random inputs of the papers'
// shapes (36 regions x 2048 features, 12-word captions) with the paper preset.
// GFLOP/s use the FLOPs a pair each model declares in its registry entry.
//   bash scripts/bench.sh bench_models [--threads=N] [--benchmark_filter=gsmn/ScoreBlock]
#include <torch/torch.h>

#include <functional>

#include "scenematch/models/matcher.h"
#include "support.h"

using namespace sm;

namespace {

struct Setup {
  BenchShapes shapes;
  MatcherPtr model;
  DataNeeds needs;
};

Setup setup(const std::string& name) {
  Setup s;
  s.model = bench_model(name, "paper", s.shapes);
  s.model->eval();
  s.needs = s.model->needs();
  return s;
}

// Encodings of n random items, made by the model's own encoders a batch at a time.
Encoding encode_images(Setup& s, int64_t n) {
  c10::InferenceMode guard;
  std::vector<Encoding> parts;
  for (int64_t i = 0; i < n; i += s.shapes.batch)
    parts.push_back(s.model->encode_images(random_images(s.needs, s.shapes, std::min(s.shapes.batch, n - i))));
  return Encoding::cat(std::move(parts));
}

Encoding encode_captions(Setup& s, int64_t n) {
  c10::InferenceMode guard;
  std::vector<Encoding> parts;
  for (int64_t i = 0; i < n; i += s.shapes.batch)
    parts.push_back(s.model->encode_captions(random_captions(s.needs, s.shapes, std::min(s.shapes.batch, n - i))));
  return Encoding::cat(std::move(parts));
}

// Registers "<model>/<part>": `run` gets the model's fresh Setup (seed 0) and the state.
benchmark::internal::Benchmark* add(const std::string& name, const std::string& part,
                                    std::function<void(Setup&, benchmark::State&)> run) {
  return benchmark::RegisterBenchmark((name + "/" + part).c_str(),
                                      [name, run](benchmark::State& state) {
                                        torch::manual_seed(0);
                                        Setup s = setup(name);
                                        run(s, state);
                                      })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

void register_model_benchmarks(const std::string& name) {
  add(name, "EncodeImages", [](Setup& s, benchmark::State& state) {
    ImageBatch batch = random_images(s.needs, s.shapes, s.shapes.batch);
    c10::InferenceMode guard;
    for (auto _ : state) benchmark::DoNotOptimize(s.model->encode_images(batch));
    bench::report(state, double(state.iterations()) * s.shapes.batch, 0, "images/s");
  });
  add(name, "EncodeCaptions", [](Setup& s, benchmark::State& state) {
    CaptionBatch batch = random_captions(s.needs, s.shapes, s.shapes.batch);
    c10::InferenceMode guard;
    for (auto _ : state) benchmark::DoNotOptimize(s.model->encode_captions(batch));
    bench::report(state, double(state.iterations()) * s.shapes.batch, 0, "captions/s");
  });
  // One block of the size evaluation scores at a time.
  add(name, "ScoreBlock", [](Setup& s, benchmark::State& state) {
    Encoding images = encode_images(s, bench::kImageBlock), captions = encode_captions(s, bench::kCaptionBlock);
    bench::score_block(state, *s.model, images, captions, score_flops_per_pair(*s.model, s.shapes));
  });
  // The whole 1,000 x 5,000 test matrix, block by block (minutes for the graph models).
  add(name, "TestMatrix", [](Setup& s, benchmark::State& state) {
    Encoding images = encode_images(s, bench::kTestImages), captions = encode_captions(s, bench::kTestCaptions);
    bench::score_whole_matrix(state, *s.model, images, captions, score_flops_per_pair(*s.model, s.shapes));
  })->Iterations(1);
}

}  // namespace

int main(int argc, char** argv) {
  for (const auto& name : matcher_names()) register_model_benchmarks(name);
  return sm::bench::run_benchmarks(argc, argv);
}
