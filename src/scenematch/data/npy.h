// NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order, no pickles).
// Reading memory-maps the file: touching one image reads only its pages, so a
// 33 GB feature file costs no more memory than the rows in use.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sm {

enum class NpyDType { Float32, Float16, Int64, Int32, Float64, Bool };

// NumPy's name of a dtype ("float32", "bool", ...), for messages and reports.
const char* npy_dtype_name(NpyDType dtype);
// The dtype write_npy stores a tensor of this scalar type as; fail() for others.
NpyDType npy_dtype_of(torch::ScalarType type);

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

  // Rows of the first axis, copied out of the map: (count, shape[1:]...), as
  // float32 (features: any stored type converted) ...
  torch::Tensor rows(int64_t begin, int64_t end) const;
  torch::Tensor gather(const std::vector<int64_t>& indices) const;
  // ... or in the stored type (bool, int64, int32, float16, float32).
  torch::Tensor stored_rows(int64_t begin, int64_t end) const;
  torch::Tensor stored_gather(const std::vector<int64_t>& indices) const;
  // Zero-copy pointer to row i (only for float32 files); valid while the
  // array (or a copy of it) is alive.
  const float* row_ptr(int64_t i) const;
  // Advises the kernel that rows [begin, end) are done with (streaming scans).
  void release(int64_t begin, int64_t end) const;

 private:
  struct Map;
  std::shared_ptr<Map> map_;
};

// Writes an array row by row, to a temporary file renamed on close(), so
// generating a 30 GB file never needs it in memory.
class NpyWriter {
 public:
  NpyWriter(const std::string& path, std::vector<int64_t> shape, NpyDType dtype = NpyDType::Float32);
  ~NpyWriter();  // removes the temporary file when close() was not reached
  // `count` elements of the writer's dtype.
  void append(const void* data, size_t count);
  void close();  // checks the element count, then renames into place

 private:
  std::string path_, tmp_;
  std::vector<int64_t> shape_;
  NpyDType dtype_;
  struct File;
  std::unique_ptr<File> file_;
  int64_t written_ = 0, expected_ = 0;
};

// C order, in the tensor's own type (npy_dtype_of), read back alike by stored_rows().
void write_npy(const std::string& path, const torch::Tensor& tensor);

}  // namespace sm
