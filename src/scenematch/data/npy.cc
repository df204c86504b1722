#include "scenematch/data/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "scenematch/core/error.h"

namespace sm {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

size_t itemsize(NpyDType d) {
  switch (d) {
    case NpyDType::Float32:
    case NpyDType::Int32:
      return 4;
    case NpyDType::Float16:
      return 2;
    case NpyDType::Int64:
    case NpyDType::Float64:
      return 8;
    case NpyDType::Bool:
      return 1;
  }
  return 0;
}

// The header's descr string of a dtype.
const char* descr_of(NpyDType d) {
  switch (d) {
    case NpyDType::Float32:
      return "<f4";
    case NpyDType::Float16:
      return "<f2";
    case NpyDType::Int64:
      return "<i8";
    case NpyDType::Int32:
      return "<i4";
    case NpyDType::Float64:
      return "<f8";
    case NpyDType::Bool:
      return "|b1";
  }
  return "";
}

torch::ScalarType scalar_type(NpyDType d) {
  switch (d) {
    case NpyDType::Float32:
      return torch::kFloat;
    case NpyDType::Float16:
      return torch::kHalf;
    case NpyDType::Int64:
      return torch::kLong;
    case NpyDType::Int32:
      return torch::kInt;
    case NpyDType::Bool:
      return torch::kBool;
    case NpyDType::Float64:
      return torch::kDouble;
  }
  return torch::kFloat;
}

// The header is a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 36, 2048), }
// Only the three keys NumPy writes are understood; values are strings,
// booleans or tuples of integers.
struct Header {
  std::string descr;
  bool has_descr = false, has_order = false, has_shape = false;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), s_(text) {}

  Header parse() {
    Header h;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          fail(path_, ": structured dtypes are not supported (descr is not a plain type string)");
        h.descr = string_literal();
        h.has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        h.has_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        h.has_shape = true;
      } else {
        fail(path_, ": unexpected key '", key, "' in the .npy header");
      }
      skip_space();
      if (peek() == ',') ++i_;
    }
    return h;
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  [[noreturn]] void bad(const char* what) {
    fail(path_, ": malformed .npy header (", what, " at character ", i_, "): ", s_);
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(cat("expected '", c, "'").c_str());
    ++i_;
  }
  std::string string_literal() {
    skip_space();
    char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    for (bool value : {true, false}) {
      std::string word = value ? "True" : "False";
      if (s_.compare(i_, word.size(), word) == 0) {
        i_ += word.size();
        return value;
      }
    }
    bad("expected True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> out;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad("expected a dimension");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (INT64_MAX - 9) / 10) bad("dimension too large");
        v = v * 10 + (s_[i_++] - '0');
      }
      out.push_back(v);
      skip_space();
      if (peek() == ',')
        ++i_;
      else if (peek() != ')')
        bad("expected ',' or ')'");
    }
    ++i_;
    return out;
  }

  const std::string& path_;
  const std::string& s_;
  size_t i_ = 0;
};

NpyDType dtype_from_descr(const std::string& path, const std::string& descr) {
  if (descr == "<f4") return NpyDType::Float32;
  if (descr == "<f2") return NpyDType::Float16;
  if (descr == "<i8") return NpyDType::Int64;
  if (descr == "<i4") return NpyDType::Int32;
  if (descr == "|b1") return NpyDType::Bool;
  if (descr == "<f8") return NpyDType::Float64;  // similarity matrices saved by other codebases
  if (!descr.empty() && descr[0] == '>')
    fail(path, ": big-endian dtype '", descr, "' is not supported; save it little-endian (arr.astype('<f4'))");
  if (descr.find('O') != std::string::npos)
    fail(path, ": object dtype (pickled data) is not supported; save a numeric array");
  fail(path, ": unsupported dtype '", descr, "' (expected <f4, <f2, <f8, <i8, <i4 or |b1)");
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += cat(i ? ", " : "", shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

struct NpyArray::Map {
  std::string path;
  std::vector<int64_t> shape;
  NpyDType dtype = NpyDType::Float32;
  int64_t row_elements = 0;
  size_t row_bytes = 0;
  size_t data_offset = 0;
  size_t file_size = 0;
  int fd = -1;
  void* base = nullptr;

  ~Map() {
    if (base) ::munmap(base, file_size);
    if (fd >= 0) ::close(fd);
  }
  const char* row(int64_t i) const { return static_cast<const char*>(base) + data_offset + i * row_bytes; }
  void check_row(int64_t i) const {
    if (shape.empty()) fail(path, ": a 0-d array has no rows");
    if (i < 0 || i >= shape[0]) fail(path, ": row ", i, " out of range (the file has ", shape[0], " rows)");
  }
};

NpyArray NpyArray::open(const std::string& path) {
  auto m = std::make_shared<Map>();
  m->path = path;
  m->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m->fd < 0) fail(path, ": cannot open (", std::strerror(errno), ")");
  struct stat st;
  if (::fstat(m->fd, &st) != 0) fail(path, ": cannot stat (", std::strerror(errno), ")");
  m->file_size = static_cast<size_t>(st.st_size);
  // Reading the header must not read ahead into the data either.
  ::posix_fadvise(m->fd, 0, 0, POSIX_FADV_RANDOM);

  // Parse the preamble with pread so a bad file is rejected before mapping.
  // The size is checked before the buffer is made: a header length field
  // is untrusted (a 24-byte file may claim a 539 MB header).
  auto read_at = [&](size_t offset, size_t n) {
    if (offset + n > m->file_size) fail(path, ": truncated .npy header (the file has ", m->file_size, " bytes)");
    std::string buf(n, '\0');
    if (::pread(m->fd, buf.data(), n, offset) != static_cast<ssize_t>(n))
      fail(path, ": truncated .npy header (the file has ", m->file_size, " bytes)");
    return buf;
  };
  std::string pre = read_at(0, kMagicSize + 2);
  if (pre.compare(0, kMagicSize, kMagic, kMagicSize) != 0) fail(path, ": not a .npy file (wrong magic bytes)");
  int major = static_cast<unsigned char>(pre[6]), minor = static_cast<unsigned char>(pre[7]);
  size_t header_len = 0, len_bytes = 0;
  if (major == 1 && minor == 0) {
    len_bytes = 2;
  } else if ((major == 2 || major == 3) && minor == 0) {
    len_bytes = 4;
  } else {
    fail(path, ": unsupported .npy format version ", major, ".", minor, " (expected 1.0, 2.0 or 3.0)");
  }
  std::string len = read_at(kMagicSize + 2, len_bytes);
  for (size_t i = len_bytes; i-- > 0;) header_len = header_len * 256 + static_cast<unsigned char>(len[i]);
  m->data_offset = kMagicSize + 2 + len_bytes + header_len;
  Header h = HeaderParser(path, read_at(kMagicSize + 2 + len_bytes, header_len)).parse();
  if (!h.has_descr || !h.has_order || !h.has_shape)
    fail(path, ": .npy header lacks 'descr', 'fortran_order' or 'shape'");
  m->dtype = dtype_from_descr(path, h.descr);
  if (h.fortran_order) fail(path, ": Fortran-order arrays are not supported; save with np.ascontiguousarray");
  m->shape = h.shape;

  // NumPy's own limit: the byte size of the non-zero dimensions fits in 64
  // bits. Past it, a shape with a zero dimension (an empty file) could still
  // claim rows whose size no integer holds.
  int64_t nonzero_bytes = static_cast<int64_t>(itemsize(m->dtype));
  for (int64_t d : m->shape)
    if (d != 0 && __builtin_mul_overflow(nonzero_bytes, d, &nonzero_bytes))
      fail(path, ": shape ", shape_string(m->shape), " of ", h.descr, " is too large (its size overflows 64 bits)");
  int64_t elements = 1;
  for (size_t i = 1; i < m->shape.size(); ++i) elements *= m->shape[i];
  m->row_elements = elements;
  m->row_bytes = static_cast<size_t>(elements) * itemsize(m->dtype);
  const int64_t total = elements * (m->shape.empty() ? 1 : m->shape[0]);
  const __int128 expected = static_cast<__int128>(m->data_offset) + static_cast<__int128>(total) * itemsize(m->dtype);
  if (expected != static_cast<__int128>(m->file_size))
    fail(path, ": file size does not match the header: shape ", shape_string(m->shape), " of ", h.descr, " needs ",
         static_cast<int64_t>(expected), " bytes, the file has ", m->file_size,
         expected > static_cast<__int128>(m->file_size) ? " (truncated?)" : " (trailing data)");

  m->base = ::mmap(nullptr, m->file_size, PROT_READ, MAP_SHARED, m->fd, 0);
  if (m->base == MAP_FAILED) {
    m->base = nullptr;
    fail(path, ": cannot memory-map (", std::strerror(errno), ")");
  }
  // Access is by image, in any order: read exactly the rows asked for
  // (rows()/gather() prefetch their own ranges) instead of reading ahead.
  ::madvise(m->base, m->file_size, MADV_RANDOM);
  NpyArray a;
  a.map_ = std::move(m);
  return a;
}

const std::string& NpyArray::path() const {
  static const std::string empty;
  return map_ ? map_->path : empty;
}

const std::vector<int64_t>& NpyArray::shape() const {
  static const std::vector<int64_t> empty;
  return map_ ? map_->shape : empty;
}

NpyDType NpyArray::dtype() const { return map_ ? map_->dtype : NpyDType::Float32; }

int64_t NpyArray::row_elements() const { return map_ ? map_->row_elements : 0; }

namespace {

// Asks the kernel to read a byte range of the map in one go (the map is
// MADV_RANDOM, so page faults alone would read one page at a time).
void prefetch(const void* base, const char* begin, size_t bytes) {
  if (bytes == 0) return;
  long page = ::sysconf(_SC_PAGESIZE);
  uintptr_t lo = reinterpret_cast<uintptr_t>(begin) & ~static_cast<uintptr_t>(page - 1);
  uintptr_t hi = reinterpret_cast<uintptr_t>(begin) + bytes;
  ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_WILLNEED);
}

}  // namespace

const char* npy_dtype_name(NpyDType dtype) {
  switch (dtype) {
    case NpyDType::Float32:
      return "float32";
    case NpyDType::Float16:
      return "float16";
    case NpyDType::Int64:
      return "int64";
    case NpyDType::Int32:
      return "int32";
    case NpyDType::Float64:
      return "float64";
    case NpyDType::Bool:
      return "bool";
  }
  return "";
}

NpyDType npy_dtype_of(torch::ScalarType type) {
  for (NpyDType d :
       {NpyDType::Float32, NpyDType::Float16, NpyDType::Float64, NpyDType::Int64, NpyDType::Int32, NpyDType::Bool})
    if (scalar_type(d) == type) return d;
  fail("npy: tensors of type ", c10::toString(type),
       " cannot be stored (float32, float16, float64, int64, int32, bool)");
}

torch::Tensor NpyArray::rows(int64_t begin, int64_t end) const { return stored_rows(begin, end).to(torch::kFloat); }

torch::Tensor NpyArray::gather(const std::vector<int64_t>& indices) const {
  return stored_gather(indices).to(torch::kFloat);
}

torch::Tensor NpyArray::stored_rows(int64_t begin, int64_t end) const {
  if (!map_) fail("npy: rows() on an array that was never opened");
  if (map_->shape.empty()) fail(map_->path, ": a 0-d array has no rows");
  if (begin < 0 || end < begin || end > rows())
    fail(map_->path, ": rows [", begin, ", ", end, ") out of range (the file has ", rows(), " rows)");
  std::vector<int64_t> sizes = map_->shape;
  sizes[0] = end - begin;
  auto out = torch::empty(sizes, torch::TensorOptions().dtype(scalar_type(map_->dtype)));
  size_t bytes = static_cast<size_t>(end - begin) * map_->row_bytes;
  if (bytes) {
    prefetch(map_->base, map_->row(begin), bytes);
    std::memcpy(out.data_ptr(), map_->row(begin), bytes);
  }
  return out;
}

torch::Tensor NpyArray::stored_gather(const std::vector<int64_t>& indices) const {
  if (!map_) fail("npy: gather() on an array that was never opened");
  if (map_->shape.empty()) fail(map_->path, ": a 0-d array has no rows");
  for (int64_t i : indices) map_->check_row(i);
  std::vector<int64_t> sizes = map_->shape;
  sizes[0] = static_cast<int64_t>(indices.size());
  auto out = torch::empty(sizes, torch::TensorOptions().dtype(scalar_type(map_->dtype)));
  // Rows of zero width (shape (n, 0)) have nothing to copy, and an empty
  // tensor's data pointer is null, which memcpy must never receive.
  if (map_->row_bytes == 0) return out;
  char* dst = static_cast<char*>(out.data_ptr());
  for (int64_t i : indices) prefetch(map_->base, map_->row(i), map_->row_bytes);
  for (size_t k = 0; k < indices.size(); ++k)
    std::memcpy(dst + k * map_->row_bytes, map_->row(indices[k]), map_->row_bytes);
  return out;
}

const float* NpyArray::row_ptr(int64_t i) const {
  if (!map_) fail("npy: row_ptr() on an array that was never opened");
  if (map_->dtype != NpyDType::Float32) fail(map_->path, ": row_ptr() needs a float32 file; use rows() to convert");
  map_->check_row(i);
  return reinterpret_cast<const float*>(map_->row(i));
}

void NpyArray::release(int64_t begin, int64_t end) const {
  if (!map_ || end <= begin) return;
  begin = std::max<int64_t>(begin, 0);
  end = std::min(end, rows());
  if (end <= begin) return;
  // Only whole pages inside the range are dropped, so rows beside it that
  // share a page are never evicted while in use. The data stays in the file;
  // a later access just faults it back in.
  long page = ::sysconf(_SC_PAGESIZE);
  uintptr_t lo = reinterpret_cast<uintptr_t>(map_->row(begin));
  uintptr_t hi = reinterpret_cast<uintptr_t>(map_->row(begin)) + static_cast<size_t>(end - begin) * map_->row_bytes;
  lo = (lo + page - 1) & ~static_cast<uintptr_t>(page - 1);
  hi &= ~static_cast<uintptr_t>(page - 1);
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

// ---------------------------------------------------------------- writing

struct NpyWriter::File {
  std::FILE* f = nullptr;
};

NpyWriter::NpyWriter(const std::string& path, std::vector<int64_t> shape, NpyDType dtype)
    : path_(path), tmp_(cat(path, ".tmp.", ::getpid())), shape_(std::move(shape)), dtype_(dtype) {
  expected_ = 1;
  for (int64_t d : shape_) {
    if (d < 0) fail(path_, ": negative dimension in shape ", shape_string(shape_));
    expected_ *= d;
  }
  // Version 1.0: magic, version, 2-byte little-endian header length, then the
  // dict padded with spaces so the data starts on a 64-byte boundary.
  std::string dict =
      cat("{'descr': '", descr_of(dtype_), "', 'fortran_order': False, 'shape': ", shape_string(shape_), ", }");
  size_t preamble = kMagicSize + 2 + 2;
  size_t total = (preamble + dict.size() + 1 + 63) / 64 * 64;
  size_t header_len = total - preamble;
  if (header_len > 0xffff) fail(path_, ": shape ", shape_string(shape_), " too long for a .npy 1.0 header");
  dict.resize(header_len - 1, ' ');
  dict += '\n';

  auto file = std::make_unique<File>();
  file->f = std::fopen(tmp_.c_str(), "wb");
  if (!file->f) fail(path_, ": cannot open ", tmp_, " for writing (", std::strerror(errno), ")");
  file_ = std::move(file);
  std::string head(kMagic, kMagicSize);
  head += '\x01';
  head += '\x00';
  head += static_cast<char>(header_len & 0xff);
  head += static_cast<char>(header_len >> 8);
  head += dict;
  if (std::fwrite(head.data(), 1, head.size(), file_->f) != head.size())
    fail(path_, ": write failed (", std::strerror(errno), ")");
}

NpyWriter::~NpyWriter() {
  if (file_ && file_->f) {
    std::fclose(file_->f);
    std::remove(tmp_.c_str());
  }
}

void NpyWriter::append(const void* data, size_t count) {
  if (!file_ || !file_->f) fail(path_, ": append() after close()");
  if (written_ + static_cast<int64_t>(count) > expected_)
    fail(path_, ": ", written_ + static_cast<int64_t>(count), " elements appended, the shape ", shape_string(shape_),
         " holds ", expected_);
  if (count && std::fwrite(data, itemsize(dtype_), count, file_->f) != count)
    fail(path_, ": write failed (", std::strerror(errno), "; disk full?)");
  written_ += static_cast<int64_t>(count);
}

void NpyWriter::close() {
  if (!file_ || !file_->f) fail(path_, ": close() called twice");
  if (written_ != expected_)
    fail(path_, ": only ", written_, " of ", expected_, " elements written for shape ", shape_string(shape_));
  std::FILE* f = file_->f;
  file_->f = nullptr;
  bool ok = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp_.c_str());
    fail(path_, ": write failed (", std::strerror(errno), "; disk full?)");
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_.c_str());
    fail(path_, ": cannot rename ", tmp_, " into place (", std::strerror(errno), ")");
  }
}

void write_npy(const std::string& path, const torch::Tensor& tensor) {
  if (!tensor.defined()) fail(path, ": cannot write an undefined tensor");
  const NpyDType dtype = npy_dtype_of(tensor.scalar_type());
  auto t = tensor.to(torch::kCPU).contiguous();
  NpyWriter w(path, t.sizes().vec(), dtype);
  w.append(t.data_ptr(), static_cast<size_t>(t.numel()));
  w.close();
}

}  // namespace sm
