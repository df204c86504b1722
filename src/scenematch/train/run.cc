#include "scenematch/train/run.h"

#include <sys/stat.h>
#include <torch/torch.h>

#include <cstdio>

#include "scenematch/data/tokenizer.h"
#include "scenematch/eval/model_data.h"

namespace sm {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

int64_t feature_dim(const std::string& data_dir) {
  NpyArray images = NpyArray::open(data_dir + "/train_ims.npy");
  if (images.shape().size() != 3) fail(images.path(), ": expected shape (N, R, F)");
  return images.shape()[2];
}

// On resume only the number of epochs may change: anything else would no
// longer describe the weights in the checkpoint.
void check_resume_overrides(const std::string& ckpt, const Config& saved, const std::vector<std::string>& overrides) {
  Config wanted = saved;
  apply_overrides(wanted, overrides);
  for (const auto& [key, value] : wanted.items())
    if (key != "epochs" && (!saved.contains(key) || saved[key] != value))
      fail("--resume: ", key, " is ", saved.value(key, Json()).dump(), " in ", ckpt,
           "; only --epochs can change when resuming");
}

}  // namespace

Vocab dataset_vocab(const std::string& data_dir, int min_count) {
  const std::string saved = data_dir + "/vocab.json";
  if (exists(saved)) return Vocab::load(saved);
  std::vector<std::vector<std::string>> tokenized;
  for (const auto& caption : read_caption_lines(data_dir + "/train_caps.txt")) tokenized.push_back(tokenize(caption));
  return Vocab::build(tokenized, min_count);
}

TrainSummary run_training(const TrainRequest& r) {
  const std::string last = r.out_dir + "/" + Trainer::kLast;
  const bool resuming = r.resume && exists(last);
  if (!r.resume && exists(last))
    fail(r.out_dir, " already holds a training run (", last,
         "); pass --resume to continue it, or choose another --out");
  if (r.resume && !resuming && r.verbose)
    std::fprintf(stderr, "--resume: %s does not exist yet; starting a new run\n", last.c_str());

  ModelBundle bundle;
  std::unique_ptr<CheckpointFile> checkpoint;
  if (resuming) {
    checkpoint = std::make_unique<CheckpointFile>(load_checkpoint(last, r.device));
    check_resume_overrides(last, checkpoint->bundle.config, r.overrides);
    bundle = checkpoint->bundle;
    apply_overrides(bundle.config, r.overrides);
    if (!r.model.empty() && r.model != bundle.name)
      fail("--resume: ", last, " holds model '", bundle.name, "', not '", r.model, "'");
    if (bundle.config.value("feature_dim", int64_t{0}) != feature_dim(r.data_dir))
      fail("--resume: ", last, " was trained on ", bundle.config["feature_dim"], "-d features; ", r.data_dir,
           "/train_ims.npy has ", feature_dim(r.data_dir));
  } else {
    bundle.name = r.model;
    bundle.config = matcher_preset(r.model, r.preset);
    bundle.config["feature_dim"] = feature_dim(r.data_dir);
    bundle.config["seed"] = 0;
    apply_overrides(bundle.config, r.overrides);
    // A model that reads visual relations fixes their source when training starts, so its checkpoint is
    // evaluated on relations made the same way (and `info` can say which).
    if (bundle.config.contains("relations"))
      bundle.config["relations"] = relation_source_name(resolve_relation_source(
          r.data_dir, "train",
          parse_relation_source(cfg_get<std::string>(bundle.config, "relations"), "--set relations")));
    bundle.vocab = dataset_vocab(r.data_dir, cfg_get<int>(bundle.config, "vocab_min_count", 1));
    torch::manual_seed(cfg_get<uint64_t>(bundle.config, "seed"));
    bundle.model = make_matcher(bundle.name, bundle.config, bundle.vocab);
    bundle.model->to(r.device);
  }
  if (r.verbose)
    std::fprintf(stderr, "%s %s on %s -> %s (vocabulary %lld words)\nconfig %s\n", resuming ? "resuming" : "training",
                 bundle.name.c_str(), r.data_dir.c_str(), r.out_dir.c_str(),
                 static_cast<long long>(bundle.vocab.size()), bundle.config.dump().c_str());

  const DataNeeds needs = bundle.model->needs();
  EvalDataOptions data_options;
  data_options.threads = r.threads;
  auto train = load_eval_data(r.data_dir, "train", bundle.vocab, needs, data_options);
  auto dev = load_eval_data(r.data_dir, r.val_split, bundle.vocab, needs, data_options);
  if (r.verbose && needs.scene_graphs)
    std::fprintf(stderr, "relations: %s\n", describe_relation_source(train->split.relation_source));
  Trainer trainer(bundle, *train->batcher, *dev->batcher, TrainerOptions{r.out_dir, r.verbose, r.group});
  if (checkpoint) trainer.restore(*checkpoint);
  return trainer.run();
}

}  // namespace sm
