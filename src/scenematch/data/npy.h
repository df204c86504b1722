// NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order, no pickles).
// Reading memory-maps the file: touching one image reads only its pages, so a
// 33 GB feature file costs no more memory than the rows in use.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <torch/types.h>
#include <vector>

namespace sm {

enum class NpyDType { Float32, Float16, Int64, Int32, Float64 };

class NpyArray {
 public:
  // Validates magic, version, header, dtype, order and that the file size
  // matches the shape; every error names the file and what is wrong.
  static NpyArray open(const std::string& path);

  const std::string& path() const;
  const std::vector<int64_t>& shape() const;
  NpyDType dtype() const;
  int64_t rows() const { return shape().empty() ? 0 : shape()[0]; }
  int64_t row_elements() const;  // product of shape()[1:]

  // Rows of the first axis as a float32 tensor (float16 converted), copied out
  // of the map: (count, shape[1:]...).
  torch::Tensor rows(int64_t begin, int64_t end) const;
  torch::Tensor gather(const std::vector<int64_t>& indices) const;
  // Zero-copy pointer to row i (only for float32 files); valid while the
  // array (or a copy of it) is alive.
  const float* row_ptr(int64_t i) const;
  // Advises the kernel that rows [begin, end) are done with (streaming scans).
  void release(int64_t begin, int64_t end) const;

 private:
  struct Map;
  std::shared_ptr<Map> map_;
};

// Writes a float32 array row by row, to a temporary file renamed on close(),
// so generating a 30 GB file never needs it in memory.
class NpyWriter {
 public:
  NpyWriter(const std::string& path, std::vector<int64_t> shape);
  ~NpyWriter();  // removes the temporary file when close() was not reached
  void append(const float* data, size_t count);
  void close();  // checks the element count, then renames into place

 private:
  std::string path_, tmp_;
  std::vector<int64_t> shape_;
  struct File;
  std::unique_ptr<File> file_;
  int64_t written_ = 0, expected_ = 0;
};

void write_npy(const std::string& path, const torch::Tensor& tensor);  // float32, C order

}  // namespace sm
