// scenematch bench: throughput of every model on generated data of the
// papers' shapes, beside the machine's measured GEMM rate.
#include <cstdio>
#include <sstream>

#include "command.h"
#include "scenematch/eval/throughput.h"

namespace sm::cli {
namespace {

struct BenchOptions {
  CommonOptions common;
  std::vector<std::string> models;
  std::string preset = "paper";
  int64_t image_block = 128, caption_block = 640;
  double seconds = 2.0;
  bool no_train = false;
};

std::vector<std::string> split_names(const std::vector<std::string>& given) {
  if (given.empty()) return matcher_names();
  std::vector<std::string> out;
  for (const auto& g : given) {
    std::stringstream ss(g);
    std::string name;
    while (std::getline(ss, name, ','))
      if (!name.empty()) out.push_back(name);
  }
  return out;
}

void run(const BenchOptions& o) {
  apply_common_options(o.common);
  BenchShapes shapes;
  const double gemm = gemm_gflops(2048, o.seconds);
  std::vector<ModelThroughput> rows;
  for (const auto& name : split_names(o.models)) {
    matcher_info(name);  // unknown names fail with the list of known ones
    if (!o.common.json) std::fprintf(stderr, "bench: %s ...\n", name.c_str());
    rows.push_back(measure_throughput(name, o.preset, shapes, o.image_block, o.caption_block, !o.no_train, o.seconds));
  }
  if (o.common.json) {
    Json j{{"gemm_gflops", gemm},
           {"preset", o.preset},
           {"shapes", {{"regions", shapes.regions}, {"features", shapes.features}, {"words", shapes.words}}},
           {"block", {o.image_block, o.caption_block}},
           {"peak_rss_mib", peak_rss_mib()},
           {"models", Json::array()}};
    for (const auto& r : rows) {
      Json m = r.to_json();
      m["gemm_fraction"] = r.score_gflops / gemm;
      m["train_gflops"] = r.train_gflop_per_step * r.train_steps_per_s;
      m["train_gemm_fraction"] = r.train_gflop_per_step * r.train_steps_per_s / gemm;
      j["models"].push_back(m);
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("float32 GEMM 2048^3: %.1f GFLOP/s (the roofline); preset %s; %lld regions x %lld features, %lld words\n",
              gemm, o.preset.c_str(), static_cast<long long>(shapes.regions), static_cast<long long>(shapes.features),
              static_cast<long long>(shapes.words));
  std::printf("%-8s %10s %10s %12s %10s %8s %10s %6s %10s %8s\n", "model", "images/s", "capts/s", "pairs/s", "GFLOP/s",
              "of GEMM", "steps/s", "batch", "GFLOP/step", "of GEMM");
  for (const auto& r : rows)
    std::printf("%-8s %10.0f %10.0f %12.0f %10.1f %7.1f%% %10.3f %6lld %10.1f %7.1f%%\n", r.model.c_str(),
                r.images_per_s, r.captions_per_s, r.pairs_per_s, r.score_gflops, 100 * r.score_gflops / gemm,
                r.train_steps_per_s, static_cast<long long>(r.train_batch), r.train_gflop_per_step,
                100 * r.train_gflop_per_step * r.train_steps_per_s / gemm);
  std::printf("peak RSS %.0f MiB\n", peak_rss_mib());
}

const CommandRegistrar registrar("bench", [](CLI::App& app) {
  auto opts = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "Throughput of the models on generated data of the papers' shapes");
  cmd->add_option("--models", opts->models, "comma-separated model names (default: all registered)");
  cmd->add_option("--preset", opts->preset, "model sizes: paper or cpu")->capture_default_str();
  cmd->add_option("--image-block", opts->image_block, "images per score() call")->capture_default_str();
  cmd->add_option("--caption-block", opts->caption_block, "captions per score() call")->capture_default_str();
  cmd->add_option("--seconds", opts->seconds, "time spent on each figure (best run kept)")->capture_default_str();
  cmd->add_flag("--no-train", opts->no_train, "skip the training-step measurement");
  add_common_options(cmd, opts->common);
  cmd->callback([opts] { run(*opts); });
});

}  // namespace
}  // namespace sm::cli
