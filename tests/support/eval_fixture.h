// Shared by the evaluation tests: a split folder written to a temporary
// directory, and a tiny Matcher whose scores are easy to compute by hand.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "scenematch/data/npy.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/models/layers.h"
#include "scenematch/models/matcher.h"
#include "support/temp_dir.h"

namespace sm::testing {

// DIR/test_ims.npy, DIR/test_caps.txt and, when given, DIR/test_probes.jsonl;
// DIR is a fresh temporary folder whose name holds `tag`.
class TempSplit {
 public:
  TempSplit(const torch::Tensor& features, const std::vector<std::string>& captions,
            const std::string& probes_jsonl = "", const std::string& tag = "")
      : temp_("sm_eval" + (tag.empty() ? "" : "_" + tag)) {
    write_npy(temp_.file("test_ims.npy"), features);
    std::ofstream caps(temp_.file("test_caps.txt"));
    for (const auto& c : captions) caps << c << "\n";
    if (!probes_jsonl.empty()) std::ofstream(temp_.file("test_probes.jsonl")) << probes_jsonl;
  }
  const std::string& dir() const { return temp_.path(); }

 private:
  TempDir temp_;
};

inline Vocab vocab_of(const std::vector<std::string>& captions) {
  std::vector<std::vector<std::string>> tokenized;
  for (const auto& c : captions) tokenized.push_back(tokenize(c));
  return Vocab::build(tokenized, 1);
}

// score(i, c) = scale * mean(regions of i) . mean(word vectors of c). Records
// whether it ran in training mode and how many score() calls it served.
struct MeanDotMatcher : Matcher {
  MeanDotMatcher(const Vocab& vocab, int64_t dim) : Matcher(Config::object()) {
    embed = register_parameter("embed", torch::randn({vocab.size(), dim}));
    scale = register_parameter("scale", torch::ones({1}));
  }
  // Sets word vectors by hand (other words stay random).
  void set_word(const Vocab& vocab, const std::string& word, std::vector<float> vec) {
    torch::NoGradGuard no_grad;
    embed[vocab.id(word)].copy_(torch::tensor(vec));
  }
  std::string name() const override { return "mean-dot"; }
  Encoding encode_images(const ImageBatch& b) override {
    saw_training |= is_training();
    Encoding e;
    e["regions"] = b.features * scale;
    e["region_mask"] = b.region_mask;
    return e;
  }
  Encoding encode_captions(const CaptionBatch& b) override {
    saw_training |= is_training();
    Encoding e;
    e["words"] = embed.index({b.tokens});  // (B, L, d), padding rows are cut by lengths
    e["word_mask"] = b.word_mask();
    return e;
  }
  torch::Tensor score(const Encoding& images, const Encoding& captions) override {
    saw_training |= is_training();
    ++score_calls;
    torch::Tensor img = masked_mean(images.at("regions"), images.at("region_mask"));
    torch::Tensor cap = masked_mean(captions.at("words"), captions.at("word_mask"));
    return img.matmul(cap.t());
  }
  // The two means whose dot product is the score (not L2-normalised, so embedding_scores() stays false).
  torch::Tensor global_embedding(const Encoding& e, bool is_image) const override {
    return is_image ? masked_mean(e.at("regions"), e.at("region_mask")) : masked_mean(e.at("words"), e.at("word_mask"));
  }
  torch::Tensor embed, scale;
  bool saw_training = false;
  int score_calls = 0;
};

struct CliResult {
  int status = -1;
  std::string out, err;
};

// Runs the scenematch binary with `args` (already shell-quoted where needed).
inline CliResult run_cli(const std::string& args) {
  const TempDir temp("sm_eval_cli");
  const std::string err_path = temp.file("stderr");
  CliResult r;
  FILE* pipe = ::popen(cat(SCENEMATCH_CLI, " ", args, " 2>", err_path).c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) r.out.append(buf, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  r.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  return r;
}

}  // namespace sm::testing
