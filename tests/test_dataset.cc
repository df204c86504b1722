#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "scenematch/core/error.h"
#include "scenematch/data/dataset.h"
#include "support/temp_dir.h"

using namespace sm;
namespace fs = std::filesystem;

namespace {

// A split folder written file by file, so each test breaks exactly one thing.
class Dataset : public ::testing::Test {
 protected:
  static constexpr int64_t N = 3, R = 4, F = 5;

  void SetUp() override {
    write_npy(file("ims.npy"), torch::randn({N, R, F}));
    std::string caps;
    for (int i = 0; i < N * 5; ++i) caps += cat("a dog number ", i, "\n");
    text("caps.txt", caps);
  }

  std::string file(const std::string& suffix) const { return dir_ + "/train_" + suffix; }
  void text(const std::string& suffix, const std::string& content) const {
    std::ofstream(file(suffix), std::ios::binary) << content;
  }
  // Boxes inside 100 x 50 images.
  void write_boxes(int64_t n = N) const {
    auto boxes = torch::tensor({10.f, 5.f, 60.f, 40.f}).repeat({n, R, 1});
    write_npy(file("ims_bbx.npy"), boxes);
    write_npy(file("ims_size.npy"), torch::tensor({100.f, 50.f}).repeat({n, 1}));
  }
  void write_vsg() const {
    text("vsg.jsonl",
         "{\"objects\": [{\"region\": 0, \"label\": \"dog\"}, {\"region\": 3, \"label\": \"red ball\"}],"
         " \"relations\": [{\"subject\": 0, \"predicate\": \"playing with\", \"object\": 3}]}\n"
         "{}\n"
         "{\"objects\": [], \"relations\": []}\n");
  }

  Split load(LoadOptions o = {}) const { return load_split(dir_, "train", o); }

  // Expects loading to fail with a message that contains every one of `parts`.
  void expect_error(const LoadOptions& o, const std::vector<std::string>& parts) const {
    try {
      load(o);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }

  sm::testing::TempDir temp_{"sm_test_dataset"};
  const std::string dir_ = temp_.path();
};

TEST_F(Dataset, LoadsFiveCaptionsPerImage) {
  Split s = load();
  EXPECT_EQ(s.num_images(), N);
  EXPECT_EQ(s.num_captions(), 5 * N);
  EXPECT_EQ(s.captions_per_image, 5);
  EXPECT_EQ(s.image_of_caption(9), 1);
  EXPECT_EQ(s.captions[7], "a dog number 7");
  EXPECT_EQ(s.images.shape(), (std::vector<int64_t>{N, R, F}));
  EXPECT_FALSE(s.boxes.has_value());
  EXPECT_TRUE(s.scene_graphs.empty());
}

TEST_F(Dataset, LoadsOneCaptionPerImageWithWindowsLineEndings) {
  text("caps.txt", "one\r\ntwo\r\nthree");  // no final newline
  Split s = load();
  EXPECT_EQ(s.captions_per_image, 1);
  EXPECT_EQ(s.captions, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(s.image_of_caption(2), 2);
}

TEST_F(Dataset, OtherCaptionRatiosNameBothFilesAndCounts) {
  text("caps.txt", "a\nb\nc\nd\n");
  expect_error({}, {file("caps.txt"), "4 captions", file("ims.npy"), "3 images"});
}

TEST_F(Dataset, Float16FeaturesAreAccepted) {
  // A float16 file written by hand: header then the raw halves.
  auto t = torch::randn({N, R, F}).to(torch::kHalf);
  std::string header = cat("{'descr': '<f2', 'fortran_order': False, 'shape': (", N, ", ", R, ", ", F, "), }");
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::ofstream out(file("ims.npy"), std::ios::binary);
  out << "\x93NUMPY" << '\x01' << '\x00' << static_cast<char>(header.size()) << '\0' << header;
  out.write(static_cast<const char*>(t.data_ptr()), t.numel() * 2);
  out.close();
  Split s = load();
  EXPECT_TRUE(torch::equal(s.images.rows(0, N), t.to(torch::kFloat)));
}

TEST_F(Dataset, CaptionErrorsNameFileAndLine) {
  text("caps.txt", "a\nb\n \nd\n");  // blank caption on line 3 (and a bad count, found later)
  expect_error({}, {file("caps.txt") + ":3", "empty"});
  text("caps.txt", "a\nb\ncaf\xc3\n");  // truncated two-byte sequence
  expect_error({}, {file("caps.txt") + ":3", "UTF-8"});
  text("caps.txt", "a\n\xed\xa0\x80 surrogate\n");
  expect_error({}, {file("caps.txt") + ":2", "UTF-8"});
  text("caps.txt", "caf\xc3\xa9\nna\xc3\xafve\n\xe2\x80\x9cquoted\xe2\x80\x9d\n");  // valid UTF-8 passes
  EXPECT_EQ(load().captions[0], "caf\xc3\xa9");
}

TEST_F(Dataset, MissingFeaturesOrCaptionsAreNamed) {
  fs::remove(file("caps.txt"));
  expect_error({}, {file("caps.txt")});
  fs::remove(file("ims.npy"));
  expect_error({}, {file("ims.npy"), "missing"});
}

TEST_F(Dataset, FeaturesMustBeThreeDimensional) {
  write_npy(file("ims.npy"), torch::randn({N, R * F}));
  expect_error({}, {file("ims.npy"), "(N, R, F)"});
}

TEST_F(Dataset, BoxesAreLoadedOnlyWhenAskedFor) {
  write_boxes();
  LoadOptions o;
  o.boxes = true;
  Split s = load(o);
  ASSERT_TRUE(s.boxes && s.sizes);
  EXPECT_EQ(s.boxes->shape(), (std::vector<int64_t>{N, R, 4}));
  EXPECT_FALSE(load().boxes.has_value());
}

TEST_F(Dataset, MissingBoxesSayWhichFileAndWhichModels) {
  LoadOptions o;
  o.boxes = true;
  expect_error(o, {file("ims_bbx.npy"), "missing", "GSMN"});
  write_boxes();
  fs::remove(file("ims_size.npy"));
  expect_error(o, {file("ims_size.npy"), "missing"});
}

TEST_F(Dataset, BoxCountMismatchNamesBothFiles) {
  write_boxes(N + 1);
  LoadOptions o;
  o.boxes = true;
  expect_error(o, {file("ims.npy"), "3 images", file("ims_bbx.npy"), "4 images"});
}

TEST_F(Dataset, BoxesOutsideTheImageAreErrors) {
  LoadOptions o;
  o.boxes = true;
  write_boxes();
  auto boxes = torch::tensor({10.f, 5.f, 60.f, 40.f}).repeat({N, R, 1});
  boxes[1][2][2] = 100.9f;  // within the 1 px tolerance
  boxes[2][0][1] = -0.5f;
  write_npy(file("ims_bbx.npy"), boxes);
  EXPECT_NO_THROW(load(o));
  boxes[1][2][2] = 101.5f;
  write_npy(file("ims_bbx.npy"), boxes);
  expect_error(o, {file("ims_bbx.npy"), "image 1 region 2", "outside"});
  boxes[1][2][2] = 60.f;
  boxes[2][3][0] = 70.f;  // x1 > x2
  write_npy(file("ims_bbx.npy"), boxes);
  expect_error(o, {file("ims_bbx.npy"), "image 2 region 3", "x2 < x1"});
  boxes[2][3][0] = std::nanf("");
  write_npy(file("ims_bbx.npy"), boxes);
  expect_error(o, {file("ims_bbx.npy"), "image 2 region 3", "NaN"});
}

TEST_F(Dataset, BadImageSizesAreErrors) {
  LoadOptions o;
  o.boxes = true;
  write_boxes();
  auto sizes = torch::tensor({100.f, 50.f}).repeat({N, 1});
  sizes[1][1] = std::numeric_limits<float>::infinity();
  write_npy(file("ims_size.npy"), sizes);
  expect_error(o, {file("ims_size.npy"), "image 1"});
  sizes[1][1] = 0;
  write_npy(file("ims_size.npy"), sizes);
  expect_error(o, {file("ims_size.npy"), "image 1"});
}

TEST_F(Dataset, ReadsSceneGraphs) {
  write_vsg();
  LoadOptions o;
  o.scene_graphs = true;
  Split s = load(o);
  ASSERT_EQ(s.scene_graphs.size(), 3u);
  ASSERT_EQ(s.scene_graphs[0].objects.size(), 2u);
  EXPECT_EQ(s.scene_graphs[0].objects[1].region, 3);
  EXPECT_EQ(s.scene_graphs[0].objects[1].label, "red ball");
  ASSERT_EQ(s.scene_graphs[0].relations.size(), 1u);
  EXPECT_EQ(s.scene_graphs[0].relations[0].predicate, "playing with");
  EXPECT_EQ(s.scene_graphs[0].relations[0].object, 3);
  EXPECT_TRUE(s.scene_graphs[1].objects.empty());
  EXPECT_TRUE(s.scene_graphs[2].relations.empty());
  EXPECT_FALSE(s.relation_features.has_value());
  EXPECT_TRUE(load().scene_graphs.empty());  // not asked for
}

TEST_F(Dataset, SceneGraphErrorsNameFileAndLine) {
  LoadOptions o;
  o.scene_graphs = true;
  o.relations = RelationSource::Given;  // auto would derive a graph instead (test_derived_vsg)
  expect_error(o, {file("vsg.jsonl"), "missing", "relations=given"});
  text("vsg.jsonl", "{}\n{}\n{\"relations\": [{\"subject\": 0, \"predicate\": \"on\", \"object\": 4}]}\n");
  expect_error(o, {file("vsg.jsonl") + ":3", "region 4"});
  text("vsg.jsonl", "{}\n{\"objects\": [{\"region\": 9, \"label\": \"x\"}]}\n{}\n");
  expect_error(o, {file("vsg.jsonl") + ":2", "region 9"});
  text("vsg.jsonl", "{}\n{\"objects\": [{\"region\": 1, \"label\": \"x\"}\n{}\n");
  expect_error(o, {file("vsg.jsonl") + ":2", "malformed JSON"});
  text("vsg.jsonl", "{}\n{\"objects\": [{\"region\": \"1\", \"label\": \"x\"}]}\n{}\n");
  expect_error(o, {file("vsg.jsonl") + ":2", "'region'"});
  text("vsg.jsonl", "{}\n\n{}\n");
  expect_error(o, {file("vsg.jsonl") + ":2", "empty line"});
  text("vsg.jsonl", "{}\n{}\n");
  expect_error(o, {file("vsg.jsonl"), "2 images", file("ims.npy"), "3 images"});
}

TEST_F(Dataset, RelationFeaturesAreCheckedAgainstTheGraphs) {
  write_vsg();
  LoadOptions o;
  o.scene_graphs = true;
  write_npy(file("vsg_rel.npy"), torch::zeros({N, 2, F}));
  Split s = load(o);
  ASSERT_TRUE(s.relation_features.has_value());
  EXPECT_EQ(s.relation_features->shape()[1], 2);
  write_npy(file("vsg_rel.npy"), torch::zeros({N, 0, F}));  // image 0 has one relation
  expect_error(o, {file("vsg.jsonl") + ":1", file("vsg_rel.npy")});
  write_npy(file("vsg_rel.npy"), torch::zeros({N + 2, 2, F}));
  expect_error(o, {file("vsg_rel.npy"), "5 images", file("ims.npy"), "3 images"});
}

TEST_F(Dataset, ReadsProbesAndChecksTheirImages) {
  LoadOptions o;
  o.probes = true;
  expect_error(o, {file("probes.jsonl"), "missing"});
  text("probes.jsonl",
       "{\"image\": 2, \"positive\": \"a man riding a horse\", \"negatives\": [\"a horse riding a man\"], "
       "\"kind\": \"relation-swap\", \"subset\": \"type-valid\"}\n\n"
       "{\"image\": 0, \"positive\": \"two dogs\", \"negatives\": [\"one dog\", \"three dogs\"], \"kind\": "
       "\"count\"}\n");
  Split s = load(o);
  ASSERT_EQ(s.probes.size(), 2u);
  EXPECT_EQ(s.probes[0].image, 2);
  EXPECT_EQ(s.probes[0].kind, "relation-swap");
  EXPECT_EQ(s.probes[0].subset, "type-valid");
  EXPECT_EQ(s.probes[1].subset, "");
  EXPECT_EQ(s.probes[1].negatives, (std::vector<std::string>{"one dog", "three dogs"}));
  text("probes.jsonl",
       "{\"image\": 0, \"positive\": \"x\", \"negatives\": [\"y\"], \"kind\": \"k\"}\n\n"
       "{\"image\": 3, \"positive\": \"x\", \"negatives\": [\"y\"], \"kind\": \"k\"}\n");
  expect_error(o, {file("probes.jsonl") + ":3", "image 3"});
  text("probes.jsonl", "{\"image\": 0, \"positive\": \"x\", \"negatives\": [], \"kind\": \"k\"}\n");
  expect_error(o, {file("probes.jsonl") + ":1", "negatives"});
  EXPECT_THROW(read_probes(file("probes.jsonl")), Error);
}

}  // namespace
