#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "scenematch/core/error.h"
#include "scenematch/data/npy.h"
#include "support/temp_dir.h"

using namespace sm;
namespace fs = std::filesystem;

namespace {

class Npy : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes a .npy file by hand: any version, any header dict, raw data bytes.
  std::string write_raw(const std::string& name, int major, const std::string& dict, const std::string& data,
                        const std::string& magic = "\x93NUMPY") {
    size_t len_bytes = major == 1 ? 2 : 4;
    size_t preamble = magic.size() + 2 + len_bytes;
    std::string header = dict;
    while ((preamble + header.size() + 1) % 64) header += ' ';
    header += '\n';
    std::string out = magic;
    out += static_cast<char>(major);
    out += '\0';
    for (size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
    out += header + data;
    std::ofstream(path(name), std::ios::binary).write(out.data(), out.size());
    return path(name);
  }

  template <class T>
  static std::string bytes_of(const torch::Tensor& t) {
    auto c = t.contiguous();
    return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * sizeof(T));
  }

  // Expects open() to fail with a message naming the file and containing `what`.
  void expect_open_error(const std::string& file, const std::string& what) {
    try {
      NpyArray::open(file);
      FAIL() << "no error for " << file;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
  }

  sm::testing::TempDir temp_{"sm_test_npy"};
  const fs::path dir_ = temp_.path();
};

TEST_F(Npy, Float32RoundTrip) {
  auto t = torch::randn({5, 3, 4});
  write_npy(path("a.npy"), t);
  auto a = NpyArray::open(path("a.npy"));
  EXPECT_EQ(a.path(), path("a.npy"));
  EXPECT_EQ(a.shape(), (std::vector<int64_t>{5, 3, 4}));
  EXPECT_EQ(a.dtype(), NpyDType::Float32);
  EXPECT_EQ(a.rows(), 5);
  EXPECT_EQ(a.row_elements(), 12);
  EXPECT_TRUE(torch::equal(a.rows(0, 5), t));
  EXPECT_TRUE(torch::equal(a.rows(2, 4), t.slice(0, 2, 4)));
  EXPECT_EQ(a.rows(3, 3).size(0), 0);
  const float* r3 = a.row_ptr(3);
  EXPECT_TRUE(torch::equal(torch::from_blob(const_cast<float*>(r3), {3, 4}), t[3]));
}

TEST_F(Npy, WriterHeaderIsVersion1AlignedTo64) {
  write_npy(path("a.npy"), torch::zeros({2, 7}));
  std::ifstream in(path("a.npy"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], 1);
  EXPECT_EQ(bytes[7], 0);
  size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(bytes[10 + header_len - 1], '\n');
  EXPECT_NE(bytes.find("'shape': (2, 7)"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10 + header_len + 2 * 7 * 4);
  // One-dimensional shapes are written the Python way, with a trailing comma.
  write_npy(path("b.npy"), torch::zeros({3}));
  EXPECT_EQ(NpyArray::open(path("b.npy")).shape(), (std::vector<int64_t>{3}));
}

TEST_F(Npy, WriterChecksCountAndRemovesTemporaryFile) {
  {
    NpyWriter w(path("partial.npy"), {2, 3});
    float row[3] = {1, 2, 3};
    w.append(row, 3);
    EXPECT_THROW(w.append(row, 6), Error);  // more than the shape holds
    EXPECT_THROW(w.close(), Error);         // one row short
  }
  EXPECT_FALSE(fs::exists(path("partial.npy")));
  for (const auto& entry : fs::directory_iterator(dir_)) ADD_FAILURE() << "left behind: " << entry.path();

  NpyWriter w(path("full.npy"), {2, 3});
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  w.append(data.data(), 3);
  EXPECT_FALSE(fs::exists(path("full.npy")));  // not visible until close()
  w.append(data.data() + 3, 3);
  w.close();
  EXPECT_TRUE(torch::equal(NpyArray::open(path("full.npy")).rows(0, 2), torch::tensor(data).view({2, 3})));
}

TEST_F(Npy, WriteNpyRejectsOtherDtypes) {
  EXPECT_THROW(write_npy(path("d.npy"), torch::zeros({2}, torch::kInt8)), Error);  // no int8 in the contract
  EXPECT_FALSE(fs::exists(path("d.npy")));
}

TEST_F(Npy, EveryStoredDtypeRoundTripsExactly) {
  // Values a float32 detour would change: int64 beyond 2^24, and bools.
  std::vector<std::pair<torch::Tensor, NpyDType>> cases = {
      {torch::tensor({int64_t(1) << 40, int64_t(-3), (int64_t(1) << 24) + 1, int64_t(7)}).view({2, 2}),
       NpyDType::Int64},
      {torch::tensor({{16777217, -5}, {0, 2}}, torch::kInt), NpyDType::Int32},
      {torch::tensor({{true, false}, {false, true}}), NpyDType::Bool},
      {torch::randn({2, 2}).to(torch::kHalf), NpyDType::Float16},
      {torch::randn({2, 2}, torch::kDouble), NpyDType::Float64},
      {torch::randn({2, 2}), NpyDType::Float32}};
  for (const auto& [t, dtype] : cases) {
    SCOPED_TRACE(npy_dtype_name(dtype));
    write_npy(path("t.npy"), t);
    auto a = NpyArray::open(path("t.npy"));
    EXPECT_EQ(a.dtype(), dtype);
    EXPECT_EQ(a.stored_rows(0, 2).scalar_type(), t.scalar_type());
    EXPECT_TRUE(torch::equal(a.stored_rows(0, 2), t));
    EXPECT_TRUE(torch::equal(a.stored_gather({1, 0}), t.index({torch::tensor({1, 0})})));
    EXPECT_EQ(a.rows(0, 2).scalar_type(), torch::kFloat);  // features keep reading as float32
  }
}

TEST_F(Npy, Float16IsConvertedToFloat32) {
  auto t = torch::randn({4, 2, 3}).to(torch::kHalf);
  auto file =
      write_raw("h.npy", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (4, 2, 3), }", bytes_of<at::Half>(t));
  auto a = NpyArray::open(file);
  EXPECT_EQ(a.dtype(), NpyDType::Float16);
  auto rows = a.rows(1, 3);
  EXPECT_EQ(rows.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(rows, t.slice(0, 1, 3).to(torch::kFloat)));
  auto g = a.gather({3, 0});
  EXPECT_TRUE(torch::equal(g[0], t[3].to(torch::kFloat)));
  EXPECT_TRUE(torch::equal(g[1], t[0].to(torch::kFloat)));
  EXPECT_THROW(a.row_ptr(0), Error);  // zero-copy is float32 only
}

TEST_F(Npy, IntegerDtypesAreReadAsFloat) {
  auto t = torch::arange(6, torch::kLong).view({3, 2});
  auto file =
      write_raw("i.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 2), }", bytes_of<int64_t>(t));
  auto a = NpyArray::open(file);
  EXPECT_EQ(a.dtype(), NpyDType::Int64);
  EXPECT_TRUE(torch::equal(a.rows(0, 3), t.to(torch::kFloat)));
}

TEST_F(Npy, Versions2And3HaveFourByteHeaderLength) {
  auto t = torch::randn({2, 5});
  for (int major : {2, 3}) {
    auto file = write_raw(cat("v", major, ".npy"), major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5), }",
                          bytes_of<float>(t));
    EXPECT_TRUE(torch::equal(NpyArray::open(file).rows(0, 2), t)) << "version " << major;
  }
  auto bad = write_raw("v4.npy", 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5), }", bytes_of<float>(t));
  expect_open_error(bad, "version 4.0");
}

// Found by fuzz_npy: a version-3 file of 24 bytes whose header length field
// says 2 GB was given a 2 GB buffer before the length was checked. Under an
// address-space limit the length must be refused by name, not allocated.
TEST_F(Npy, HeaderLengthIsCheckedBeforeItIsAllocated) {
  std::string bytes = std::string("\x93NUMPY\x03", 7) + '\0' + std::string("\xff\xff\xff\x7f", 4) + "{'descr'";
  const std::string file = path("claims_2gb_header.npy");
  std::ofstream(file, std::ios::binary).write(bytes.data(), bytes.size());
  std::ifstream status("/proc/self/status");
  size_t mapped_kb = 0;
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmSize:", 0) == 0) mapped_kb = std::stoull(line.substr(7));
  ASSERT_GT(mapped_kb, 0u);
  const pid_t child = ::fork();
  if (child == 0) {
    const rlim_t limit = (mapped_kb + 512 * 1024) * 1024;  // 512 MB more than now: far below 2 GB
    const struct rlimit r = {limit, limit};
    ::setrlimit(RLIMIT_AS, &r);
    try {
      NpyArray::open(file);
      ::_exit(2);
    } catch (const Error& e) {
      ::_exit(std::string(e.what()).find("truncated .npy header") != std::string::npos ? 0 : 3);
    } catch (...) {
      ::_exit(4);  // std::bad_alloc: the buffer was made first
    }
  }
  int status_code = 0;
  ASSERT_EQ(::waitpid(child, &status_code, 0), child);
  ASSERT_TRUE(WIFEXITED(status_code));
  EXPECT_EQ(WEXITSTATUS(status_code), 0) << "2: accepted, 3: another error, 4: allocation failed";
}

// Found by the CI fuzz smoke: gathering rows of zero width passed an empty
// tensor's null data pointer to memcpy (undefined behaviour; the sanitizer
// build of this test stops there).
TEST_F(Npy, ZeroWidthRowsGatherToEmptyRows) {
  auto a =
      NpyArray::open(write_raw("zero_width.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }", ""));
  EXPECT_EQ(a.rows(), 3);
  EXPECT_EQ(a.gather({2, 0}).sizes(), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(a.rows(0, 3).sizes(), (std::vector<int64_t>{3, 0}));
  EXPECT_THROW(a.gather({3}), Error);
}

// Found by the fuzzer: the element count of a long shape overflowed even a
// 128-bit product. A shape is rejected once its size (its non-zero
// dimensions, in bytes) overflows 64 bits, as NumPy refuses to make one.
TEST_F(Npy, ShapesWhoseSizeOverflowsAreRejected) {
  expect_open_error(write_raw("long.npy", 1,
                              "{'descr': '<f8', 'fortran_order': False, 'shape': (44444444444444439, 1, "
                              "4434444444444440, 1, 44, 20, 300), }",
                              ""),
                    "too large");
  // Empty (a zero dimension), yet a row would be 2^62 * 4 * 4 bytes.
  expect_open_error(write_raw("empty_huge.npy", 1,
                              "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4), }", ""),
                    "too large");
  // Empty rows whose other dimensions overflow: LibTorch refused to make them
  // with its own exception, which no caller expects (the CI fuzz smoke's abort).
  expect_open_error(write_raw("rows_of_nothing.npy", 1,
                              "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 1099511627776, "
                              "1099511627776, 0), }",
                              ""),
                    "too large");
  auto empty = NpyArray::open(
      write_raw("empty.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1000000, 1000), }", ""));
  EXPECT_EQ(empty.rows(), 0);
  EXPECT_EQ(empty.row_elements(), 1000000000);
  EXPECT_EQ(empty.rows(0, 0).sizes(), (std::vector<int64_t>{0, 1000000, 1000}));
}

// Similarity matrices saved by other codebases are float64; rows() gives float32.
TEST_F(Npy, ReadsFloat64) {
  const double values[] = {0.5, -1.25, 3.0, 1e-3, 2.0, -0.75};
  std::string data(reinterpret_cast<const char*>(values), sizeof values);
  NpyArray a =
      NpyArray::open(write_raw("f8.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", data));
  EXPECT_EQ(a.dtype(), NpyDType::Float64);
  auto rows = a.rows(0, 2);
  EXPECT_EQ(rows.scalar_type(), torch::kFloat);
  EXPECT_FLOAT_EQ(rows[1][0].item<float>(), 1e-3f);
  EXPECT_FLOAT_EQ(rows[0][1].item<float>(), -1.25f);
}

TEST_F(Npy, RejectsBadFiles) {
  std::string data(2 * 3 * 4, '\0');
  expect_open_error(
      write_raw("magic.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, "\x93NUMPZ"),
      "magic");
  expect_open_error(write_raw("be.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", data),
                    "big-endian");
  expect_open_error(write_raw("f.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data),
                    "Fortran");
  expect_open_error(write_raw("o.npy", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }", data),
                    "pickled");
  expect_open_error(write_raw("u8.npy", 1, "{'descr': '<u8', 'fortran_order': False, 'shape': (2, 3), }", data),
                    "'<u8'");
  expect_open_error(write_raw("nokey.npy", 1, "{'descr': '<f4', 'shape': (2, 3), }", data), "fortran_order");
  expect_open_error(write_raw("junk.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", data),
                    "malformed");
  expect_open_error(path("missing.npy"), "cannot open");
  std::ofstream(path("short.npy"), std::ios::binary) << "\x93NU";
  expect_open_error(path("short.npy"), "truncated");
}

TEST_F(Npy, TruncatedFileNamesExpectedAndActualBytes) {
  write_npy(path("t.npy"), torch::ones({4, 8}));
  auto full = fs::file_size(path("t.npy"));
  fs::resize_file(path("t.npy"), full - 4);
  try {
    NpyArray::open(path("t.npy"));
    FAIL() << "truncated file accepted";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path("t.npy")), std::string::npos) << msg;
    EXPECT_NE(msg.find(cat(full, " bytes")), std::string::npos) << msg;
    EXPECT_NE(msg.find(cat(full - 4)), std::string::npos) << msg;
    EXPECT_NE(msg.find("(4, 8)"), std::string::npos) << msg;
  }
}

TEST_F(Npy, GatherPicksRowsInOrderAndChecksRange) {
  auto t = torch::randn({10, 2, 3});
  write_npy(path("g.npy"), t);
  auto a = NpyArray::open(path("g.npy"));
  auto g = a.gather({7, 2, 7, 0});
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{4, 2, 3}));
  EXPECT_TRUE(torch::equal(g[0], t[7]));
  EXPECT_TRUE(torch::equal(g[1], t[2]));
  EXPECT_TRUE(torch::equal(g[2], t[7]));
  EXPECT_TRUE(torch::equal(g[3], t[0]));
  EXPECT_EQ(a.gather({}).size(0), 0);
  for (auto bad : {int64_t{10}, int64_t{-1}}) {
    try {
      a.gather({1, bad});
      ADD_FAILURE() << "row " << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path("g.npy")), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(a.rows(5, 11), Error);
  EXPECT_THROW(a.rows(6, 5), Error);
  EXPECT_THROW(a.row_ptr(10), Error);
}

TEST_F(Npy, CopiesOutliveTheArray) {
  auto t = torch::randn({3, 4});
  write_npy(path("c.npy"), t);
  torch::Tensor rows;
  {
    auto a = NpyArray::open(path("c.npy"));
    NpyArray copy = a;
    rows = copy.rows(0, 3);
  }
  EXPECT_TRUE(torch::equal(rows, t));
}

// Pages of the file that are in the page cache, in [offset, offset + bytes).
size_t resident_pages(const std::string& file, size_t offset, size_t bytes) {
  int fd = ::open(file.c_str(), O_RDONLY);
  size_t size = std::filesystem::file_size(file);
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  long page = ::sysconf(_SC_PAGESIZE);
  size_t first = offset / page, last = (offset + bytes + page - 1) / page;
  std::vector<unsigned char> vec((size + page - 1) / page);
  ::mincore(base, size, vec.data());
  size_t n = 0;
  for (size_t i = first; i < last && i < vec.size(); ++i) n += vec[i] & 1;
  ::munmap(base, size);
  ::close(fd);
  return n;
}

TEST_F(Npy, ReadingOneRowTouchesOnlyItsPages) {
  const int64_t rows = 64, row_floats = 36 * 256;  // 36 KiB rows, 2.25 MiB file
  write_npy(path("big.npy"), torch::randn({rows, row_floats}));
  std::string file = path("big.npy");
  size_t size = fs::file_size(file);
  {  // Drop the freshly written file from the page cache.
    int fd = ::open(file.c_str(), O_RDONLY);
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
  if (resident_pages(file, 0, size) > 4) GTEST_SKIP() << "this filesystem keeps the file cached";
  auto a = NpyArray::open(file);
  auto row = a.rows(40, 41);
  long page = ::sysconf(_SC_PAGESIZE);
  size_t row_bytes = row_floats * 4, data_offset = size - rows * row_bytes;
  size_t row_pages = row_bytes / page;
  size_t touched = resident_pages(file, 0, size);
  EXPECT_GE(touched, row_pages);
  // The header page and the row's pages (plus one for a row straddling pages).
  EXPECT_LE(touched, row_pages + 3) << "reading one row read " << touched << " pages";
  size_t outside = touched - resident_pages(file, data_offset + 40 * row_bytes, row_bytes);
  EXPECT_LE(outside, 2u) << "pages read outside the row: " << outside;
}

// Resident file-backed memory of this process, from /proc/self/status.
int64_t rss_file_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssFile:", 0) == 0) return std::stoll(line.substr(8));
  return -1;
}

TEST_F(Npy, ReleaseDropsMappedPages) {
  const int64_t rows = 128, row_floats = 65536;  // 32 MiB
  write_npy(path("r.npy"), torch::ones({rows, row_floats}));
  auto a = NpyArray::open(path("r.npy"));
  if (rss_file_kib() < 0) GTEST_SKIP() << "no RssFile in /proc/self/status";
  int64_t before = rss_file_kib();
  double sum = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = a.row_ptr(r);
    for (int64_t i = 0; i < row_floats; i += 1024) sum += p[i];  // touch every page
  }
  EXPECT_EQ(sum, rows * row_floats / 1024);
  int64_t touched = rss_file_kib();
  EXPECT_GT(touched - before, 24 * 1024) << "mapping did not count towards RSS";
  a.release(0, rows);
  EXPECT_LT(rss_file_kib() - before, 4 * 1024);
  // Released rows are still readable: the kernel faults them back in.
  EXPECT_EQ(a.rows(5, 6).sum().item<double>(), row_floats);
}

}  // namespace
