#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/tensor_pack.h"
#include "scenematch/models/checkpoint.h"
#include "support/random_batches.h"
#include "support/temp_dir.h"

using namespace sm;

namespace {

using sm::testing::TempDir;

ModelBundle small_bundle(uint64_t seed) {
  torch::manual_seed(seed);
  ModelBundle b;
  b.name = "vsepp";
  b.vocab = Vocab::build({{"a", "dog", "on", "the", "grass", "man", "riding", "horse"}}, 1);
  b.config = matcher_preset("vsepp", "cpu");
  b.config["embed_size"] = 12;
  b.config["word_dim"] = 6;
  b.config["feature_dim"] = 8;
  b.model = make_matcher(b.name, b.config, b.vocab);
  return b;
}

torch::Tensor fixed_scores(Matcher& m) {
  sm::testing::ImageSpec spec;
  spec.regions = 4;
  spec.features = 8;
  ImageBatch imgs = sm::testing::random_images(3, spec, 99);
  CaptionBatch caps;
  caps.ids = {0, 1};
  caps.tokens = torch::tensor({{2, 3, 4, 0}, {5, 6, 7, 8}}, torch::kInt64);
  caps.lengths = torch::tensor({3, 4}, torch::kInt64);
  torch::NoGradGuard g;
  return m.score(m.encode_images(imgs), m.encode_captions(caps));
}

void expect_error(const std::string& path, const std::string& word) {
  try {
    load_checkpoint(path, torch::kCPU);
    ADD_FAILURE() << "no error loading " << path;
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(word), std::string::npos) << msg;
  }
}

}  // namespace

TEST(Checkpoint, RoundTripGivesIdenticalScores) {
  TempDir dir;
  ModelBundle b = small_bundle(1);
  Json state = {{"epoch", 3}, {"best_rsum", 123.5}};
  std::string path = dir.path() + "/m.ckpt";
  save_checkpoint(path, b, state, "optimizer-bytes");

  CheckpointFile f = load_checkpoint(path, torch::kCPU);
  EXPECT_EQ(f.bundle.name, "vsepp");
  EXPECT_EQ(f.bundle.config, b.config);
  EXPECT_EQ(f.bundle.vocab.to_json(), b.vocab.to_json());
  EXPECT_EQ(f.trainer_state, state);
  EXPECT_EQ(f.optimizer_bytes, "optimizer-bytes");
  EXPECT_TRUE(torch::equal(fixed_scores(*b.model), fixed_scores(*f.bundle.model)));
  // A differently initialised model really does score differently.
  EXPECT_FALSE(torch::equal(fixed_scores(*b.model), fixed_scores(*small_bundle(2).model)));

  Json header = read_checkpoint_header(path);
  EXPECT_EQ(header["name"], "vsepp");
  EXPECT_EQ(header["config"], b.config);
  EXPECT_EQ(header["trainer_state"]["epoch"], 3);
  int64_t params = 0;
  for (const auto& p : b.model->parameters()) params += p.numel();
  EXPECT_EQ(header["sizes"]["parameters"], params);
}

TEST(Checkpoint, TruncatedFilesAreRefusedByName) {
  TempDir dir;
  std::string full_path = dir.path() + "/full.ckpt";
  save_checkpoint(full_path, small_bundle(1), Json::object(), std::string(100, 'o'));
  const std::string bytes = read_file(full_path);
  for (size_t cut : {size_t{0}, size_t{5}, size_t{20}, size_t{40}, bytes.size() / 2, bytes.size() - 1}) {
    std::string path = dir.path() + "/cut" + std::to_string(cut) + ".ckpt";
    write_file_atomic(path, bytes.substr(0, cut));
    expect_error(path, "truncated");
    if (cut >= 8) {
      EXPECT_THROW(read_checkpoint_header(path), Error) << cut;
    }
  }
}

TEST(Checkpoint, FlippedBytesAreRefusedByName) {
  TempDir dir;
  std::string full_path = dir.path() + "/full.ckpt";
  save_checkpoint(full_path, small_bundle(1), Json::object(), std::string(100, 'o'));
  const std::string bytes = read_file(full_path);
  for (size_t at : {size_t{2}, size_t{30}, bytes.size() / 2, bytes.size() - 60, bytes.size() - 1}) {
    std::string flipped = bytes;
    flipped[at] ^= 0x20;
    std::string path = dir.path() + "/flip" + std::to_string(at) + ".ckpt";
    write_file_atomic(path, flipped);
    expect_error(path, "corrupt");
  }
  std::string longer = dir.path() + "/longer.ckpt";
  write_file_atomic(longer, bytes + "x");
  expect_error(longer, "corrupt");
  expect_error(dir.path() + "/missing.ckpt", "no such file");
}

// Found by fuzz_checkpoint: a file changed and given a right checksum again
// (edited by hand, or by another writer) escaped as a TorchScript exception
// instead of an error naming it, and a crafted one crashed TorchScript's type
// parser; "sizes" of the wrong type escaped as a JSON exception.
TEST(Checkpoint, ConsistentButGarbledFilesAreRefusedByName) {
  TempDir dir;
  const std::string original = dir.path() + "/original.ckpt";
  save_checkpoint(original, small_bundle(1));
  const std::string bytes = read_file(original);
  // Replaces `from` by `to` (same length, so every offset stays right) and re-sums.
  auto edited = [&](const std::string& from, const std::string& to, const std::string& name) {
    std::string b = bytes;
    const size_t at = b.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    b.replace(at, from.size(), to);
    const uint64_t sum = fnv1a64(b.data(), b.size() - sizeof sum);
    std::memcpy(b.data() + b.size() - sizeof sum, &sum, sizeof sum);
    const std::string path = dir.path() + "/" + name + ".ckpt";
    write_file_atomic(path, b);
    return path;
  };
  // A weight renamed, a dtype changed, a shape made to disagree with the bytes.
  const std::string weight = "\"name\":\"";  // as the weights' index spells a tensor's name
  expect_error(edited("\"dtype\":\"float32\"", "\"dtype\":\"float64\"", "dtype"), "dtype");
  expect_error(edited("\"dtype\":\"float32\"", "\"dtype\":\"complex\"", "unknown_dtype"), "dtype \"complex\"");
  {
    const std::string name = model_tensors(*small_bundle(1).model).front().first;
    std::string renamed = name;
    renamed.back() = renamed.back() == 'x' ? 'y' : 'x';
    expect_error(edited(weight + name + "\"", weight + renamed + "\"", "renamed"), name);
  }
  const std::string sizes = cat("\"sizes\":", read_checkpoint_header(original)["sizes"].dump());
  expect_error(edited(sizes, cat("\"sizes\":[", std::string(sizes.size() - 10, ' '), "]"), "sizes_array"), "corrupt");
}

TEST(Checkpoint, CrashMidWriteLeavesTheOldFile) {
  TempDir dir;
  std::string path = dir.path() + "/last.ckpt";
  ModelBundle b = small_bundle(1);
  save_checkpoint(path, b);
  const std::string new_bytes = read_file(path);
  EXPECT_THROW(write_file_atomic(path,
                                 [&](std::ostream& out) {
                                   out.write(new_bytes.data(), new_bytes.size() / 2);
                                   throw Error("simulated crash");
                                 }),
               Error);
  CheckpointFile f = load_checkpoint(path, torch::kCPU);
  EXPECT_TRUE(torch::equal(fixed_scores(*b.model), fixed_scores(*f.bundle.model)));

  // A process killed half-way through its write: the old file is still whole.
  pid_t child = fork();
  if (child == 0) {
    write_file_atomic(path, [&](std::ostream& out) {
      out.write(new_bytes.data(), new_bytes.size() / 2);
      out.flush();
      _exit(3);
    });
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 3);
  f = load_checkpoint(path, torch::kCPU);
  EXPECT_TRUE(torch::equal(fixed_scores(*b.model), fixed_scores(*f.bundle.model)));
}

// Format 1 held the weights as a LibTorch archive; such files are refused by
// name before any of their bytes reach a parser.
TEST(Checkpoint, FormatOneIsRefusedByName) {
  TempDir dir;
  const std::string path = dir.path() + "/old.ckpt";
  save_checkpoint(path, small_bundle(1));
  std::string b = read_file(path);
  const size_t at = b.find("\"format\":2");
  ASSERT_NE(at, std::string::npos);
  b[at + 9] = '1';
  const uint64_t sum = fnv1a64(b.data(), b.size() - sizeof sum);
  std::memcpy(b.data() + b.size() - sizeof sum, &sum, sizeof sum);
  write_file_atomic(path, b);
  expect_error(path, "format 1");
}
