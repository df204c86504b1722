// The authors' releases: NLTK tokens on the real caption files, the released
// vocabularies, and the token ids of the parity fixtures (../shared, next to
// the clone; skipped with a message where it is absent).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <sstream>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/error.h"
#include "scenematch/data/dataset.h"
#include "scenematch/data/given_dependencies.h"
#include "scenematch/data/tokenizer.h"
#include "scenematch/data/vocab.h"
#include "scenematch/eval/metrics.h"
#include "scenematch/eval/model_data.h"
#include "scenematch/eval/similarity.h"
#include "scenematch/models/release_import.h"
#include "support/eval_fixture.h"

using namespace sm;

namespace {

std::string repo_root() {
  std::string f = __FILE__;  // <root>/tests/test_release.cc
  return f.substr(0, f.rfind("/tests/"));
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// ../shared/<sub> next to the clone, or "" where it is absent.
std::string shared(const std::string& sub) {
  std::string dir = repo_root() + "/../shared/" + sub;
  return exists(dir) ? dir : "";
}

#define REQUIRE_SHARED(var, sub)                                                  \
  const std::string var = shared(sub);                                            \
  if (var.empty())                                                                \
  GTEST_SKIP() << "../shared/" sub                                                \
                  " is absent next to this clone (CI has it; a user's clone may " \
                  "not)"

std::vector<std::string> split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST(Tokenizer, SplitsLikeNltk) {
  EXPECT_EQ(tokenize("A man's dog, running."),
            (std::vector<std::string>{"a", "man", "'s", "dog", ",", "running", "."}));
  // Already spaced possessives stay whole; inner periods and final ".." as NLTK.
  EXPECT_EQ(tokenize("a woman 's shoulders"), (std::vector<std::string>{"a", "woman", "'s", "shoulders"}));
  EXPECT_EQ(tokenize("A p.i.n.k. sign at the U.S.A. store.."),
            (std::vector<std::string>{"a", "p.i.n.k.", "sign", "at", "the", "u.s.a.", "store", ".."}));
  // A quote after a space opens (``), one after a word closes ('').
  EXPECT_EQ(tokenize("a \"rock\" gesture"), (std::vector<std::string>{"a", "``", "rock", "''", "gesture"}));
  EXPECT_EQ(tokenize("a \" rock \" gesture"), (std::vector<std::string>{"a", "``", "rock", "``", "gesture"}));
  EXPECT_EQ(tokenize("they\xe2\x80\x99re 4' tall, cannot"),
            (std::vector<std::string>{"they", "\xe2\x80\x99", "re", "4", "'", "tall", ",", "can", "not"}));
}

// Every line of both real caption files: its own spacing, or NLTK's tokens
// where tests/data lists them (the lines NLTK re-splits: quotes, "..", "4'").
TEST(Tokenizer, MatchesNltkOnRealCaptionFiles) {
  REQUIRE_SHARED(real, "real");
  std::map<std::pair<std::string, int>, std::string> nltk;
  std::ifstream table(repo_root() + "/tests/data/nltk_tokens_of_real_captions.tsv");
  ASSERT_TRUE(table.good());
  for (std::string line; std::getline(table, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t a = line.find('\t'), b = line.find('\t', a + 1);
    nltk[{line.substr(0, a), std::stoi(line.substr(a + 1, b - a - 1))}] = line.substr(b + 1);
  }
  for (const std::string name : {"f30k_dev_caps.txt", "coco_dev_caps.txt"}) {
    std::vector<std::string> lines = read_caption_lines(real + "/" + name);
    int same = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      auto it = nltk.find({name, static_cast<int>(i + 1)});
      auto expected = split(it == nltk.end() ? lower(lines[i]) : it->second);
      if (tokenize(lines[i]) == expected)
        ++same;
      else
        ADD_FAILURE() << name << ":" << i + 1 << ": " << lines[i];
    }
    std::cout << name << ": " << same << " / " << lines.size() << " captions tokenised as NLTK does\n";
    EXPECT_EQ(same, static_cast<int>(lines.size()));
  }
}

TEST(Vocab, ReadsReleaseFormat) {
  Json j = {{"word2idx", {{"<pad>", 0}, {"<start>", 1}, {"<end>", 2}, {"<unk>", 3}, {"dog", 4}}},
            {"idx2word", {{"0", "<pad>"}, {"1", "<start>"}, {"2", "<end>"}, {"3", "<unk>"}, {"4", "dog"}}},
            {"idx", 5}};
  Vocab v = Vocab::from_release_json(j, "v.json");
  EXPECT_EQ(v.caption_ids({"dog", "cat"}), (std::vector<int64_t>{1, 4, 3, 2}));
  Vocab back = Vocab::from_json(v.to_json());  // as stored in a checkpoint
  EXPECT_EQ(back.caption_ids({"dog"}), (std::vector<int64_t>{1, 4, 2}));
  Json bad = j;
  bad["word2idx"]["<unk>"] = 5;
  EXPECT_THROW(Vocab::from_release_json(bad, "v.json"), Error);
  bad = j;
  bad["idx2word"]["4"] = "cat";
  try {
    Vocab::from_release_json(bad, "v.json");
    FAIL() << "a disagreeing idx2word was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("v.json: idx2word['4']"), std::string::npos) << e.what();
  }
}

TEST(Vocab, RealReleaseFiles) {
  REQUIRE_SHARED(real, "real");
  Vocab f30k = Vocab::load(real + "/f30k_precomp_vocab.json");
  EXPECT_EQ(f30k.size(), 8480);
  EXPECT_TRUE(f30k.wraps());
  EXPECT_EQ(f30k.unk_id(), 3);
  EXPECT_GT(Vocab::load(real + "/coco_precomp_vocab.json").size(), 10000);
}

// Token ids equal those the authors' loaders fed the models.
TEST(Vocab, FixtureTokenIds) {
  REQUIRE_SHARED(parity, "parity");
  for (const std::string fixture :
       {"gsmn_dense/f30k_precomp", "gsmn_sparse/f30k_precomp", "vse_infty_bigru/f30k/precomp"}) {
    const std::string root = parity + "/" + fixture.substr(0, fixture.find('/'));
    Vocab vocab = Vocab::load(root + "/vocab/f30k_precomp_vocab.json");
    std::vector<std::string> captions = read_caption_lines(parity + "/" + fixture + "/test_caps.txt");
    std::ifstream tokens(root + "/tokens.txt");
    for (size_t i = 0; i < captions.size(); ++i) {
      std::string line;
      ASSERT_TRUE(std::getline(tokens, line)) << root << "/tokens.txt ends at line " << i;
      std::vector<int64_t> expected;
      for (const auto& w : split(line)) expected.push_back(std::stoll(w));
      EXPECT_EQ(vocab.caption_ids(tokenize(captions[i])), expected) << fixture << " caption " << i;
    }
  }
}

namespace {

torch::Tensor load_npy(const std::string& path) {
  NpyArray a = NpyArray::open(path);
  return a.rows(0, a.rows()).to(torch::kDouble);
}

Json load_json(const std::string& path) { return Json::parse(read_file(path)); }

// Ranks and top-1 as the authors' i2t / t2i compute them (argsort, best ground truth).
void expect_ranks(const torch::Tensor& sims, const Json& recall, const std::string& what) {
  const int64_t ni = sims.size(0), nc = sims.size(1), per = nc / ni;
  auto order_i2t = sims.argsort(1, /*descending=*/true), order_t2i = sims.t().argsort(1, true);
  for (int64_t i = 0; i < ni; ++i) {
    int64_t best = nc;
    for (int64_t k = 0; k < nc; ++k)
      if (order_i2t[i][k].item<int64_t>() / per == i) best = std::min(best, k);
    EXPECT_EQ(best, recall["ranks_i2t"][i].get<int64_t>()) << what << " i2t rank of image " << i;
    EXPECT_EQ(order_i2t[i][0].item<int64_t>(), recall["top1_i2t"][i].get<int64_t>()) << what << " image " << i;
  }
  for (int64_t c = 0; c < nc; ++c) {
    int64_t rank = 0;
    while (order_t2i[c][rank].item<int64_t>() != c / per) ++rank;
    EXPECT_EQ(rank, recall["ranks_t2i"][c].get<int64_t>()) << what << " t2i rank of caption " << c;
    EXPECT_EQ(order_t2i[c][0].item<int64_t>(), recall["top1_t2i"][c].get<int64_t>()) << what << " caption " << c;
  }
}

void expect_recalls(const RecallMetrics& m, const Json& recall, const std::string& what) {
  const std::pair<double, const char*> values[] = {
      {m.i2t_r1, "r1"}, {m.i2t_r5, "r5"}, {m.i2t_r10, "r10"}, {m.i2t_medr, "medr"}, {m.i2t_meanr, "meanr"}};
  for (const auto& [v, key] : values) EXPECT_NEAR(v, recall["i2t"][key].get<double>(), 1e-9) << what << " i2t " << key;
  const std::pair<double, const char*> t2i[] = {
      {m.t2i_r1, "r1"}, {m.t2i_r5, "r5"}, {m.t2i_r10, "r10"}, {m.t2i_medr, "medr"}, {m.t2i_meanr, "meanr"}};
  for (const auto& [v, key] : t2i) EXPECT_NEAR(v, recall["t2i"][key].get<double>(), 1e-9) << what << " t2i " << key;
  EXPECT_NEAR(m.rsum, recall["rsum"].get<double>(), 1e-9) << what;
}

// max |a - b| and that over max |b|.
std::pair<double, double> differences(const torch::Tensor& ours, const torch::Tensor& golden) {
  double abs = (ours.to(torch::kDouble) - golden).abs().max().item<double>();
  return {abs, abs / golden.abs().max().item<double>()};
}

// Largest L2 distance between corresponding unit vectors (last axis).
double vector_distance(const torch::Tensor& ours, const torch::Tensor& golden) {
  return (ours.to(torch::kDouble) - golden).norm(2, -1).max().item<double>();
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/" + name; }

}  // namespace

class GsmnRelease : public ::testing::TestWithParam<std::string> {};

// Import, then evaluate the fixture's data folder as the authors ship it.
TEST_P(GsmnRelease, ScoresAsTheAuthorsCode) {
  REQUIRE_SHARED(parity, "parity");
  const std::string dir = parity + "/" + GetParam();
  ImportedModel imported =
      import_release({"gsmn", dir + "/model_best.pth.tar", dir + "/vocab/f30k_precomp_vocab.json"});
  EXPECT_EQ(imported.bundle.config["structure"], "release");
  EXPECT_EQ(imported.bundle.config["graph"], GetParam() == "gsmn_sparse" ? "sparse" : "dense");
  const std::string ckpt = temp_path(GetParam() + ".ckpt");
  save_checkpoint(ckpt, imported.bundle);
  torch::NoGradGuard no_grad;
  ModelData md = load_model_data(ckpt, dir + "/f30k_precomp", "test", torch::kCPU);
  EXPECT_TRUE(md.split().sizes->release_dicts);
  md.model().eval();

  std::vector<int64_t> images(md.split().num_images()), captions(md.split().num_captions());
  std::iota(images.begin(), images.end(), 0);
  std::iota(captions.begin(), captions.end(), 0);
  Encoding ei = md.model().encode_images(md.batcher().images(images));
  CaptionBatch cb = md.batcher().captions(captions);
  Encoding ec = md.model().encode_captions(cb);
  EXPECT_TRUE(torch::equal(cb.lengths, load_npy(dir + "/cap_lens.npy").to(torch::kLong)));
  const double img = vector_distance(ei.at("regions"), load_npy(dir + "/emb_img.npy"));
  const double cap = vector_distance(ec.at("words"), load_npy(dir + "/emb_cap.npy"));
  EXPECT_LE(img, 1e-5);
  EXPECT_LE(cap, 1e-5);

  torch::Tensor sims = similarity_matrix(md.model(), md.batcher());
  auto [abs, rel] = differences(sims, load_npy(dir + "/sims.npy"));
  std::cout << GetParam() << ": sims max abs diff " << abs << ", relative to max |golden| " << rel
            << "; largest L2 distance of region vectors " << img << ", word vectors " << cap << "\n";
  EXPECT_LE(rel, 1e-5);
  const Json recall = load_json(dir + "/recall.json");
  expect_recalls(recall_metrics(sims, md.split().captions_per_image), recall, GetParam());
  expect_ranks(sims, recall, GetParam());

  // The release's own evaluation, box handling included (opt-in).
  md.data->batcher->set_release_eval_boxes(cfg_get<int64_t>(md.bundle.config, "batch_size"));
  auto [release_abs, release_rel] =
      differences(similarity_matrix(md.model(), md.batcher()), load_npy(dir + "/sims_release_eval.npy"));
  std::cout << GetParam() << ": release-evaluation sims max abs diff " << release_abs << ", relative " << release_rel
            << "\n";
  EXPECT_LE(release_rel, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GsmnRelease, ::testing::Values("gsmn_dense", "gsmn_sparse"));

namespace {

// Edits a converted checkpoint's header (what the converter wrote) in place.
void edit_header(const std::string& dir, const std::function<void(Json&)>& edit) {
  Json h = load_json(dir + "/header.json");
  edit(h);
  write_file_atomic(dir + "/header.json", h.dump());
}

void expect_import_error(const std::string& dir, const std::string& vocab, const std::vector<std::string>& parts) {
  try {
    import_converted({"gsmn", "model_best.pth.tar", vocab}, dir);
    ADD_FAILURE() << "imported without an error; expected one naming " << parts.front();
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

}  // namespace

// Each defect is refused with an error that names the file and the key.
TEST(GsmnImport, RefusesBadCheckpoints) {
  REQUIRE_SHARED(parity, "parity");
  const std::string fixture = parity + "/gsmn_dense", vocab = fixture + "/vocab/f30k_precomp_vocab.json";
  const std::string good = temp_path("gsmn_converted");
  std::filesystem::create_directories(good);
  convert_release(fixture + "/model_best.pth.tar", good);
  const std::string header = read_file(good + "/header.json");
  auto restore = [&] { write_file_atomic(good + "/header.json", header); };
  auto entry = [](Json& h, size_t dict, const std::string& name) -> Json& {
    for (Json& e : h["model"][dict])
      if (e["name"] == name) return e;
    throw std::runtime_error("fixture lacks " + name);
  };

  edit_header(good, [&](Json& h) { entry(h, 1, "rnn.bias_hh_l0")["name"] = "rnn.bias_hh_l9"; });
  expect_import_error(good, vocab, {"model_best.pth.tar", "missing key 'txt_enc.rnn.bias_hh_l0'"});
  restore();
  edit_header(good, [&](Json& h) {
    Json extra = entry(h, 3, "out_2.bias");
    extra["name"] = "out_3.bias";
    h["model"][3].push_back(extra);
  });
  expect_import_error(good, vocab, {"unexpected key 't2i_match_G.out_3.bias'"});
  restore();
  edit_header(good, [&](Json& h) {
    Json& e = entry(h, 0, "fc.bias");
    e["shape"] = {512};
    e["bytes"] = 512 * 4;
  });
  expect_import_error(good, vocab, {"key 'img_enc.fc.bias' has shape [512], expected [1024]"});
  restore();
  edit_header(good, [](Json& h) { h["opt"]["bi_gru"] = false; });
  expect_import_error(good, vocab, {"opt 'bi_gru' = false is not supported"});
  restore();
  edit_header(good, [](Json& h) { h["opt"]["num_block"] = 24; });
  expect_import_error(good, vocab, {"opt 'num_block' = 24 does not divide 'embed_size' = 1024"});
  restore();
  edit_header(good, [](Json& h) { h["opt"]["vocab_size"] = 100; });
  expect_import_error(good, vocab, {"opt 'vocab_size' = 100 but the vocabulary has 8480 words"});
}

// Through the command: a truncated file and another model's checkpoint write
// nothing; the fixture imports and evaluates as the authors' code scores it.
TEST(GsmnImport, CommandWritesNothingOnError) {
  REQUIRE_SHARED(parity, "parity");
  const std::string fixture = parity + "/gsmn_dense", vocab = fixture + "/vocab/f30k_precomp_vocab.json";
  const std::string truncated = temp_path("truncated.pth.tar"), out = temp_path("never.ckpt");
  write_file_atomic(truncated, read_file(fixture + "/model_best.pth.tar").substr(0, 1000000));
  std::filesystem::remove(out);
  auto r = sm::testing::run_cli(
      cat("import --from gsmn --checkpoint '", truncated, "' --vocab '", vocab, "' --out '", out, "'"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(truncated + ": cannot read it as a torch checkpoint"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));

  const std::string other = parity + "/vse_infty_bigru/model_best.pth";
  r = sm::testing::run_cli(
      cat("import --from gsmn --checkpoint '", other, "' --vocab '", vocab, "' --out '", out, "'"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("holds 2 state_dict(s), this release has 4"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));

  r = sm::testing::run_cli(cat("import --from gsmn --checkpoint '", fixture, "/model_best.pth.tar' --vocab '", vocab,
                               "' --out '", out, "'"));
  ASSERT_EQ(r.status, 0) << r.err;
  // The user's path: eval of the imported checkpoint on the authors' folder, matrix saved.
  const std::string saved = temp_path("sims.npy");
  r = sm::testing::run_cli(cat("eval --checkpoint '", out, "' --data '", fixture, "/f30k_precomp' --save-sims '", saved,
                               "' --threads 1 --json"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NEAR(Json::parse(r.out)["rsum"].get<double>(), load_json(fixture + "/recall.json")["rsum"].get<double>(),
              1e-9);
  EXPECT_LE(differences(load_npy(saved), load_npy(fixture + "/sims.npy")).second, 1e-5);
}

// The protocol on the authors' saved matrices gives their printed recalls.
TEST(SavedSimilarities, RecallEqualsTheAuthors) {
  REQUIRE_SHARED(parity, "parity");
  for (const std::string fixture :
       {"gsmn_dense/f30k_precomp", "gsmn_sparse/f30k_precomp", "vse_infty_bigru/f30k/precomp"}) {
    const std::string root = parity + "/" + fixture.substr(0, fixture.find('/'));
    auto r = sm::testing::run_cli(
        cat("eval --sims '", root, "/sims.npy' --data '", parity, "/", fixture, "' --split test --json"));
    ASSERT_EQ(r.status, 0) << r.err;
    Json ours = Json::parse(r.out);
    const Json recall = load_json(root + "/recall.json");
    for (const char* dir : {"i2t", "t2i"})
      for (const char* key : {"r1", "r5", "r10", "medr", "meanr"})
        EXPECT_NEAR(ours[cat(dir, "_", key)].get<double>(), recall[dir][key].get<double>(), 1e-9)
            << fixture << " " << dir << " " << key;
    EXPECT_NEAR(ours["rsum"].get<double>(), recall["rsum"].get<double>(), 1e-9) << fixture;
  }
  // Two matrices are averaged; a wrong shape is refused with both file names.
  const std::string dense = parity + "/gsmn_dense";
  auto r = sm::testing::run_cli(cat("eval --sims '", dense, "/sims.npy' --sims '", parity,
                                    "/gsmn_sparse/sims.npy' --data '", dense, "/f30k_precomp' --json"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = sm::testing::run_cli(cat("eval --sims '", dense, "/emb_img.npy' --data '", dense, "/f30k_precomp'"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(dense + "/emb_img.npy: shape"), std::string::npos) << r.err;
}

TEST(VseInftyRelease, ScoresAsTheAuthorsCode) {
  REQUIRE_SHARED(parity, "parity");
  const std::string dir = parity + "/vse_infty_bigru";
  ImportedModel imported =
      import_release({"vse_infty", dir + "/model_best.pth", dir + "/vocab/f30k_precomp_vocab.json"});
  EXPECT_EQ(imported.bundle.vocab.size(), 8481);  // with <mask>, as the authors' script adds it
  const std::string ckpt = temp_path("vse_infty.ckpt");
  save_checkpoint(ckpt, imported.bundle);
  torch::NoGradGuard no_grad;
  ModelData md = load_model_data(ckpt, dir + "/f30k/precomp", "test", torch::kCPU);
  md.model().eval();
  std::vector<int64_t> images(md.split().num_images()), captions(md.split().num_captions());
  std::iota(images.begin(), images.end(), 0);
  std::iota(captions.begin(), captions.end(), 0);
  const double img =
      vector_distance(md.model().encode_images(md.batcher().images(images)).at("emb"), load_npy(dir + "/emb_img.npy"));
  const double cap = vector_distance(md.model().encode_captions(md.batcher().captions(captions)).at("emb"),
                                     load_npy(dir + "/emb_cap.npy"));
  EXPECT_LE(img, 1e-5);
  EXPECT_LE(cap, 1e-5);
  torch::Tensor sims = similarity_matrix(md.model(), md.batcher());
  auto [abs, rel] = differences(sims, load_npy(dir + "/sims.npy"));
  std::cout << "vse_infty_bigru: sims max abs diff " << abs << ", relative to max |golden| " << rel
            << "; largest L2 distance of image embeddings " << img << ", caption embeddings " << cap << "\n";
  EXPECT_LE(rel, 1e-5);
  const Json recall = load_json(dir + "/recall.json");
  expect_recalls(recall_metrics(sims, md.split().captions_per_image), recall, "vse_infty_bigru");
  expect_ranks(sims, recall, "vse_infty_bigru");
}

// info names what differs in the authors' folders.
TEST(ReleaseData, InfoReportsEachCase) {
  REQUIRE_SHARED(parity, "parity");
  auto r = sm::testing::run_cli(cat("info '", parity, "/gsmn_dense/f30k_precomp'"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("test_ims_size.npy: GSMN's object array of {'image_w', 'image_h'} dicts"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("test_precaps_stan.txt: GSMN's precomputed word ids"), std::string::npos) << r.out;

  // Flickr30K's dev shape (1,014 images, 5,070 captions), last caption without a newline.
  const std::string dir = temp_path("f30k_dev");
  std::filesystem::create_directories(dir);
  write_npy(dir + "/dev_ims.npy", torch::zeros({1014, 2, 4}));
  std::string caps;
  for (int i = 0; i < 5070; ++i) caps += i ? "\na dog ." : "a dog .";
  write_file_atomic(dir + "/dev_caps.txt", caps);
  r = sm::testing::run_cli(cat("info '", dir, "'"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("dev_caps.txt: last line has no newline"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dev has 1014 images and 5070 captions; the SCAN/GSMN/VSE∞ loaders evaluate only the first "
                       "5,000 captions"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(load_split(dir, "dev").num_captions(), 5070);
}

// gsmn --set text_edges=given on the fixture's S_caps.json: the batch's
// adjacency plus self-loops equals the matrix the release's
// build_sparse_graph makes over the <start>-wrapped ids, on every word.
TEST(ReleaseData, GivenDependenciesAreTheReleasesSparseGraph) {
  REQUIRE_SHARED(parity, "parity");
  const std::string fixture = parity + "/gsmn_sparse";
  Vocab vocab = Vocab::load(fixture + "/vocab/f30k_precomp_vocab.json");
  DataNeeds needs;
  needs.parses = needs.given_dependencies = true;
  auto data = load_eval_data(fixture + "/f30k_precomp", "test", vocab, needs);
  std::vector<int64_t> ids(data->split.num_captions());
  std::iota(ids.begin(), ids.end(), 0);
  const CaptionBatch batch = data->batcher->captions(ids);

  std::ifstream in(fixture + "/f30k_precomp/test_caps.json");
  const Json pairs = Json::parse(in);
  ASSERT_EQ(pairs.size(), ids.size());
  for (size_t c = 0; c < ids.size(); ++c) {
    const int64_t lens = batch.lengths[c].item<int64_t>();  // ids with <start> and <end>
    auto release = torch::eye(lens);
    for (size_t k = 1; k < pairs[c].size(); ++k) {
      const int64_t g = pairs[c][k][0], d = pairs[c][k][1];
      if (g >= lens || d >= lens) continue;
      release[g][d] = release[d][g] = 1;
    }
    auto ours = batch.adjacency[c].slice(0, 0, lens).slice(1, 0, lens) + torch::eye(lens);
    // Words sit at positions 1 .. lens - 2, between <start> and <end>.
    EXPECT_TRUE(torch::equal(ours.slice(0, 1, lens - 1).slice(1, 1, lens - 1),
                             release.slice(0, 1, lens - 1).slice(1, 1, lens - 1)))
        << "caption " << c;
  }
}
