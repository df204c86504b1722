// Throughput measurement on generated data of the papers' shapes (36 regions
// x 2048 features, 12-word captions), shared by `scenematch bench` and the
// Google Benchmark programs in bench/. Every figure is set beside the
// machine's measured float32 GEMM rate (the roofline).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "scenematch/core/config.h"
#include "scenematch/models/matcher.h"

namespace sm {

struct BenchShapes {
  int64_t batch = 128, regions = 36, features = 2048, words = 12;
  int64_t objects = 10, relations = 10, triplets = 4, phrase = 3;
  int64_t vocab = 8500;  // about Flickr30K's vocabulary at min count 4
};

Vocab synthetic_vocab(int64_t size);
ImageBatch random_images(const DataNeeds& needs, const BenchShapes& s, int64_t count);
CaptionBatch random_captions(const DataNeeds& needs, const BenchShapes& s, int64_t count);
// A freshly initialised model of a preset, sized for the shapes' features.
MatcherPtr bench_model(const std::string& name, const std::string& preset, const BenchShapes& s);

// float32 n x n x n GEMM rate, best of repeated runs for about `seconds`.
double gemm_gflops(int64_t n, double seconds);

// Matrix-product FLOPs the model's score() does per image-caption pair of
// these shapes, as the model's registry entry declares them.
double score_flops_per_pair(const Matcher& model, const BenchShapes& s);

// FLOPs of the LibTorch operators `work` runs on this thread, as LibTorch's
// profiler counts them from the operands' shapes: matrix products (mm,
// addmm, bmm, baddbmm), convolutions and elementwise mul/add, backward
// included; other operators count 0.
double counted_flops(const std::function<void()>& work);

struct ModelThroughput {
  std::string model, preset;
  double images_per_s = 0, captions_per_s = 0;  // encoders, inference mode
  double pairs_per_s = 0;                       // score() on an image block x caption block
  double score_gflops = 0;                      // pairs_per_s x FLOPs per pair
  double train_steps_per_s = 0;                 // forward + backward + Adam (0 if skipped)
  double train_gflop_per_step = 0;              // counted_flops of one such step
  int64_t train_batch = 0;                      // pairs per training step: the preset's batch_size
  Json to_json() const;
};

// Times each part for about `seconds` (at least one run each).
ModelThroughput measure_throughput(const std::string& name, const std::string& preset, const BenchShapes& s,
                                   int64_t image_block, int64_t caption_block, bool train, double seconds);

double peak_rss_mib();  // of this process so far

}  // namespace sm
