#include "scenematch/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>

#include "scenematch/core/progress.h"
#include "scenematch/core/tensor_pack.h"
#include "scenematch/eval/metrics.h"
#include "scenematch/eval/similarity.h"
#include "scenematch/models/first_stage_head.h"
#include "scenematch/train/distributed.h"
#include "scenematch/train/hard_negative_loss.h"
#include "scenematch/train/log.h"
#include "scenematch/train/plot.h"
#include "scenematch/train/schedule.h"

namespace sm {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The CPU generator's state as hex, so dropout masks continue exactly after a
// resume.
std::string rng_state_hex() {
  auto gen = at::detail::getDefaultCPUGenerator();
  torch::Tensor state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    state = gen.get_state();
  }
  static const char* kDigits = "0123456789abcdef";
  std::string hex;
  const auto* p = state.data_ptr<uint8_t>();
  for (int64_t i = 0; i < state.numel(); ++i) {
    hex += kDigits[p[i] >> 4];
    hex += kDigits[p[i] & 15];
  }
  return hex;
}

void set_rng_state_hex(const std::string& hex) {
  if (hex.empty() || hex.size() % 2) fail("checkpoint: bad torch_rng state");
  torch::Tensor state = torch::empty({static_cast<int64_t>(hex.size() / 2)}, torch::kUInt8);
  auto* p = state.data_ptr<uint8_t>();
  for (size_t i = 0; i < hex.size(); i += 2) p[i / 2] = static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16));
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

Trainer::Trainer(ModelBundle bundle, const Batcher& train, const Batcher& dev, TrainerOptions options)
    : bundle_(std::move(bundle)), train_(train), dev_(dev), options_(std::move(options)) {
  if (!bundle_.model) fail("Trainer: no model");
  if (options_.out_dir.empty()) fail("Trainer: no output folder");
  // With its parents: `--out runs/NAME` on a fresh checkout has no runs/ yet.
  std::error_code error;
  std::filesystem::create_directories(options_.out_dir, error);
  if (!std::filesystem::is_directory(options_.out_dir))
    fail(options_.out_dir, ": cannot create the run folder", error ? " (" + error.message() + ")" : std::string());
  optimizer_ = std::make_unique<torch::optim::Adam>(bundle_.model->parameters(),
                                                    torch::optim::AdamOptions(cfg_get<double>(bundle_.config, "lr")));
  hard_negatives_ = HardNegativeTerm::from_config(bundle_.config, train_);
  const int world = options_.group ? options_.group->world_size() : 1;
  global_batch_ = cfg_get<int64_t>(bundle_.config, "batch_size") * world;
  if (options_.group) {
    check_distributable(*bundle_.model);
    // Every rank starts from rank 0's weights, whatever seeded them.
    options_.group->broadcast(bundle_.model->parameters());
    gradient_reducer_ = std::make_unique<GradientReducer>(*options_.group, bundle_.model->parameters());
  }
}

Trainer::~Trainer() = default;

void Trainer::restore(const CheckpointFile& last) {
  const Json& s = last.trainer_state;
  try {
    epochs_done_ = s.at("epoch").get<int>();
    global_step_ = s.at("global_step").get<int64_t>();
    best_rsum_ = s.at("best_rsum").get<double>();
    best_epoch_ = s.at("best_epoch").get<int>();
    records_ = s.at("log").get<std::vector<Json>>();
    global_batch_ = s.value("global_batch", global_batch_);
    set_rng_state_hex(s.at("torch_rng").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint has no trainer state to resume from (", e.what(), "); was it written by `scenematch train`?");
  }
  if (last.optimizer_bytes.empty()) fail("checkpoint has no optimizer state to resume from (use last.ckpt)");
  const std::string what = "the checkpoint's optimizer state";
  std::map<std::string, torch::Tensor> saved;
  for (auto& [name, t] : unpack_tensors(last.optimizer_bytes, what)) saved[name] = t;
  auto take = [&](const std::string& name, const torch::Tensor& like) {
    auto it = saved.find(name);
    if (it == saved.end()) return torch::Tensor();
    torch::Tensor t = it->second;
    saved.erase(it);
    if (like.defined() && (t.sizes() != like.sizes() || t.scalar_type() != like.scalar_type()))
      fail(what, ": '", name, "' is ", t.sizes(), ", its parameter is ", like.sizes());
    return like.defined() ? t.to(like.device()) : t;
  };
  auto& state = optimizer_->state();
  state.clear();
  for (const auto& p : bundle_.model->named_parameters()) {
    const torch::Tensor step = take(p.key() + ".step", {});
    if (!step.defined()) continue;  // a parameter that was never stepped
    if (step.numel() != 1 || step.scalar_type() != torch::kLong) fail(what, ": '", p.key(), ".step' is not a count");
    auto s = std::make_unique<torch::optim::AdamParamState>();
    s->step(step.item<int64_t>());
    auto moment = [&](const char* part) {
      torch::Tensor t = take(p.key() + "." + part, p.value());
      if (!t.defined()) fail(what, ": no '", p.key(), ".", part, "'");
      return t;
    };
    s->exp_avg(moment("exp_avg"));
    s->exp_avg_sq(moment("exp_avg_sq"));
    if (torch::Tensor m = take(p.key() + ".max_exp_avg_sq", p.value()); m.defined()) s->max_exp_avg_sq(m);
    state[c10::guts::to_string(p.value().unsafeGetTensorImpl())] = std::move(s);
  }
  if (!saved.empty()) fail(what, ": '", saved.begin()->first, "' belongs to no parameter of this model");
}

Json Trainer::state() const {
  return {{"epoch", epochs_done_},
          {"global_step", global_step_},
          {"best_rsum", best_rsum_},
          {"best_epoch", best_epoch_},
          {"log", records_},
          {"torch_rng", rng_state_hex()},
          {"global_batch", global_batch_}};
}

// Adam's state by parameter name: its step, the two moment estimates and the
// AMSGrad maximum where there is one (a tensor pack, like the weights).
std::string Trainer::optimizer_bytes() const {
  NamedTensors out;
  const auto& state = optimizer_->state();
  for (const auto& p : bundle_.model->named_parameters()) {
    auto it = state.find(c10::guts::to_string(p.value().unsafeGetTensorImpl()));
    if (it == state.end()) continue;
    const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
    out.emplace_back(p.key() + ".step", torch::tensor(s.step(), torch::kLong));
    out.emplace_back(p.key() + ".exp_avg", s.exp_avg());
    out.emplace_back(p.key() + ".exp_avg_sq", s.exp_avg_sq());
    if (s.max_exp_avg_sq().defined()) out.emplace_back(p.key() + ".max_exp_avg_sq", s.max_exp_avg_sq());
  }
  return pack_tensors(out);
}

Json Trainer::train_epoch(int epoch) {
  const Config& cfg = bundle_.config;
  const int epochs = cfg_get<int>(cfg, "epochs");
  const double lr = learning_rate(cfg, epoch), clip = cfg_get<double>(cfg, "grad_clip", 0.0);
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);

  std::mt19937_64 rng(epoch_seed(cfg_get<uint64_t>(cfg, "seed", 0), epoch));
  // Every rank draws the same global batches (grouped ones too: the same
  // generator state), and step_loss scores the whole batch, so another
  // caption of an image on another rank's shard is still a positive.
  const auto batches = train_.epoch(global_batch_, cfg_get<int64_t>(cfg, "captions_per_image", 1), rng);
  Matcher& model = *bundle_.model;
  model.train();
  const auto clipped_apart = clip_groups(model);

  const auto start = Clock::now();
  double loss_sum = 0;
  std::map<std::string, double> term_sums;
  Progress progress(cat("epoch ", epoch + 1, "/", epochs), static_cast<int64_t>(batches.size()), "step");
  for (size_t b = 0; b < batches.size(); ++b) {
    const auto& caption_ids = batches[b];
    std::vector<int64_t> image_ids;
    image_ids.reserve(caption_ids.size());
    for (int64_t c : caption_ids) image_ids.push_back(train_.split().image_of_caption(c));

    model.begin_step(global_step_, epoch);
    LossOutput out = step_loss(image_ids, caption_ids, epoch);
    optimizer_->zero_grad();
    out.total.backward();  // with a group, the gradient all-reduces start during it
    reduce_gradients();
    if (clip > 0)
      for (const auto& group : clipped_apart) torch::nn::utils::clip_grad_norm_(group, clip);
    optimizer_->step();
    ++global_step_;

    const double loss = out.total.item<double>();
    if (!std::isfinite(loss))
      fail("training diverged: loss is ", loss, " at epoch ", epoch + 1, " step ", b + 1,
           "; lower the learning rate (--set lr=...) or the gradient clip "
           "(--set grad_clip=...)");
    loss_sum += loss;
    for (const auto& [k, v] : out.terms) term_sums[k] += v;
    progress.step(1, cat("loss ", fixed(loss_sum / double(b + 1), 4)));
  }
  progress.finish();

  const double n = std::max<size_t>(1, batches.size());
  Json record = {{"epoch", epoch + 1}, {"lr", lr}, {"steps", batches.size()}, {"loss", loss_sum / n}};
  record["terms"] = Json::object();
  for (const auto& [k, v] : term_sums) record["terms"][k] = v / n;
  record["seconds"] = seconds_since(start);
  if (options_.group) {
    record["world_size"] = options_.group->world_size();
    record["allreduce_seconds"] = allreduce_seconds_;
    allreduce_seconds_ = 0;
  }
  return record;
}

LossOutput Trainer::step_loss(const std::vector<int64_t>& image_ids, const std::vector<int64_t>& caption_ids,
                              int epoch) {
  const ProcessGroupContext* group = options_.group.get();
  const bool hard = hard_negatives_ && hard_negatives_->active(epoch);
  // Loaded once for both terms; a rank without hard negatives leaves it to
  // distributed_ranking_loss, which may need only its shard's.
  const ImageBatch images = group && !hard ? ImageBatch() : train_.images(image_ids);
  LossOutput out =
      group ? distributed_ranking_loss(*bundle_.model, *group, train_, image_ids, caption_ids, hard ? &images : nullptr)
            : bundle_.model->loss(images, train_.captions(caption_ids));
  if (hard)
    hard_negatives_->add(*bundle_.model, images, caption_ids,
                         epoch_seed(cfg_get<uint64_t>(bundle_.config, "seed", 0) + 1, static_cast<int>(global_step_)),
                         out, group);
  return out;
}

void Trainer::reduce_gradients() {
  if (!gradient_reducer_) return;
  const auto start = Clock::now();
  gradient_reducer_->finish();
  allreduce_seconds_ += seconds_since(start);
}

bool Trainer::writes_files() const { return !options_.group || options_.group->is_main(); }

Json Trainer::validate() {
  const auto start = Clock::now();
  SimilarityOptions sim_options;
  sim_options.group = options_.group.get();
  torch::Tensor sims = similarity_matrix(*bundle_.model, dev_, sim_options);  // in eval mode, without autograd
  Json j = recall_metrics(sims, dev_.split().captions_per_image).to_json();
  j["val_seconds"] = seconds_since(start);
  return j;
}

TrainSummary Trainer::run() {
  const auto start = Clock::now();
  const int epochs = cfg_get<int>(bundle_.config, "epochs");
  if (writes_files()) {
    bundle_.vocab.save(path("vocab.json"));
    // Resumed: a kill between last.ckpt and log.jsonl left the log an epoch
    // behind, and with no epoch left to train it would stay so.
    if (!records_.empty()) write_log_jsonl(path(kLog), records_);
  }
  for (int epoch = epochs_done_; epoch < epochs; ++epoch) {
    Json record = train_epoch(epoch);
    record.update(validate());
    const double rsum = record.at("rsum").get<double>();
    const bool best = rsum > best_rsum_;
    record["best"] = best;
    if (best) {
      best_rsum_ = rsum;
      best_epoch_ = epoch + 1;
    }
    epochs_done_ = epoch + 1;
    records_.push_back(record);

    // best.ckpt before last.ckpt: a crash in between reruns the epoch, which
    // reaches the same rSum and leaves best.ckpt as it is.
    if (writes_files()) {
      const Json s = state();
      if (best) save_checkpoint(path(kBest), bundle_, s);
      save_checkpoint(path(kLast), bundle_, s, optimizer_bytes());
      write_log_jsonl(path(kLog), records_);
      plot_curves(records_, path(kPlot), cat(bundle_.name, " (", bundle_.config.value("preset", "custom"), ")"));
    }

    if (options_.verbose && writes_files()) {
      std::fprintf(stderr,
                   "epoch %d/%d  lr %.2g  loss %.4f  rSum %.1f%s  R@1 i2t %.1f "
                   "t2i %.1f  %s\n",
                   epoch + 1, epochs, record["lr"].get<double>(), record["loss"].get<double>(), rsum,
                   best ? " (best)" : "", record.value("i2t_r1", 0.0), record.value("t2i_r1", 0.0),
                   format_duration(record["seconds"].get<double>() + record["val_seconds"].get<double>()).c_str());
      const std::string terms = format_terms(record);
      if (!terms.empty()) std::fprintf(stderr, "  terms (epoch means): %s\n", terms.c_str());
    }
  }

  TrainSummary summary;
  summary.epochs = epochs_done_;
  summary.best_epoch = best_epoch_;
  summary.best_rsum = std::max(0.0, best_rsum_);
  summary.last_record = records_.empty() ? Json() : records_.back();
  summary.seconds = seconds_since(start);
  summary.best_path = path(kBest);
  summary.last_path = path(kLast);
  summary.log_path = path(kLog);
  summary.plot_path = path(kPlot);
  return summary;
}

}  // namespace sm
