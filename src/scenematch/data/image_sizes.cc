// S_ims_size.npy in either form. GSMN's release stores a NumPy object array
// of {'image_w': int, 'image_h': int} dicts, i.e. a pickle. It is read here by
// a small pickle reader that knows only the opcodes such a file uses and the
// three NumPy names that rebuild the array, and builds plain values from them:
// nothing is imported or called, so no file can run code through it.
#include <map>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/error.h"
#include "scenematch/data/dataset.h"

namespace sm {
namespace {

struct Value;
using List = std::vector<Value>;
struct Value {
  enum Kind { None, Int, Str, Seq, Dict, Global, Object } kind = None;
  int64_t i = 0;
  std::string s;  // Str text; Global "module name"
  List items;     // Seq elements; Dict as key, value, key, value...; Object: callable, args, state
};

class PickleReader {
 public:
  PickleReader(const std::string& path, const std::string& bytes, size_t at) : path_(path), b_(bytes), at_(at) {}

  Value run() {
    for (;;) {
      const unsigned char op = byte();
      switch (op) {
        case 0x80:
          byte();
          break;  // PROTO
        case 0x95:
          take(8);
          break;  // FRAME
        case '.':
          return pop();  // STOP
        case '(':
          marks_.push_back(stack_.size());
          break;
        case 'N':
          push({});
          break;
        case 0x88:
          push(integer(1));
          break;  // NEWTRUE
        case 0x89:
          push(integer(0));
          break;  // NEWFALSE
        case 'K':
          push(integer(byte()));
          break;
        case 'M':
          push(integer(le(2)));
          break;
        case 'J':
          push(integer(static_cast<int32_t>(le(4))));
          break;
        case 0x8a: {  // LONG1
          size_t n = byte();
          if (n > 8) bad("integer too long");
          int64_t v = n ? static_cast<int64_t>(le(n) << (64 - 8 * n)) >> (64 - 8 * n) : 0;
          push(integer(v));
          break;
        }
        case 'C':
        case 'U':
        case 0x8c:
          push(text(byte()));
          break;  // SHORT_BINBYTES/STRING/UNICODE
        case 'B':
        case 'T':
        case 'X':
          push(text(le(4)));
          break;  // BINBYTES/STRING/UNICODE
        case 'q':
          memo_[byte()] = top();
          break;  // BINPUT
        case 'r':
          memo_[le(4)] = top();
          break;  // LONG_BINPUT
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE
        case 'h':
          push(memo(byte()));
          break;  // BINGET
        case 'j':
          push(memo(le(4)));
          break;  // LONG_BINGET
        case ')':
          push(seq({}));
          break;  // EMPTY_TUPLE
        case ']':
          push(seq({}));
          break;  // EMPTY_LIST
        case '}': {
          Value d;
          d.kind = Value::Dict;
          push(d);
          break;
        }  // EMPTY_DICT
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          List items(op - 0x84);
          for (size_t k = items.size(); k-- > 0;) items[k] = pop();
          push(seq(std::move(items)));
          break;
        }
        case 't':
          push(seq(since_mark()));
          break;
        case 'a': {
          Value v = pop();
          top_ref(Value::Seq).items.push_back(v);
          break;
        }  // APPEND
        case 'e': {
          List v = since_mark();
          auto& l = top_ref(Value::Seq).items;
          l.insert(l.end(), v.begin(), v.end());
          break;
        }
        case 's': {
          Value v = pop(), k = pop();
          auto& d = top_ref(Value::Dict).items;
          d.push_back(k);
          d.push_back(v);
          break;
        }
        case 'u': {  // SETITEMS
          List kv = since_mark();
          if (kv.size() % 2) bad("odd SETITEMS");
          auto& d = top_ref(Value::Dict).items;
          d.insert(d.end(), kv.begin(), kv.end());
          break;
        }
        case 'c': {  // GLOBAL "module\nname\n"
          std::string module = line(), name = line();
          push(global(module + " " + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Value name = pop(), module = pop();
          push(global(module.s + " " + name.s));
          break;
        }
        case 'R': {  // REDUCE: recorded, never called
          Value args = pop(), callable = pop();
          if (callable.kind != Value::Global) bad("REDUCE of something that is not an allowed name");
          Value o;
          o.kind = Value::Object;
          o.items = {callable, args, Value{}};
          push(o);
          break;
        }
        case 'b': {  // BUILD: the state is kept
          Value state = pop();
          top_ref(Value::Object).items[2] = state;
          break;
        }
        default:
          bad(cat("unsupported pickle opcode ", int(op)));
      }
    }
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(path_, ": not GSMN's image-size file (", what, " at byte ", at_,
         "); expected float32 (N, 2) or an object array "
         "of {'image_w', 'image_h'} dicts");
  }
  unsigned char byte() { return static_cast<unsigned char>(take(1)[0]); }
  const char* take(size_t n) {
    if (at_ + n > b_.size()) bad("truncated");
    const char* p = b_.data() + at_;
    at_ += n;
    return p;
  }
  uint64_t le(size_t n) {
    const char* p = take(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(static_cast<unsigned char>(p[k])) << (8 * k);
    return v;
  }
  std::string line() {
    size_t end = b_.find('\n', at_);
    if (end == std::string::npos) bad("truncated");
    std::string s = b_.substr(at_, end - at_);
    at_ = end + 1;
    return s;
  }
  static Value integer(int64_t v) {
    Value x;
    x.kind = Value::Int;
    x.i = v;
    return x;
  }
  Value text(uint64_t n) {
    Value x;
    x.kind = Value::Str;
    x.s.assign(take(n), n);
    return x;
  }
  static Value seq(List items) {
    Value x;
    x.kind = Value::Seq;
    x.items = std::move(items);
    return x;
  }
  Value global(const std::string& name) {
    static const char* const kAllowed[] = {"numpy.core.multiarray _reconstruct", "numpy._core.multiarray _reconstruct",
                                           "numpy ndarray", "numpy dtype"};
    for (const char* a : kAllowed)
      if (name == a) {
        Value x;
        x.kind = Value::Global;
        x.s = name;
        return x;
      }
    bad("refusing the name '" + name + "'");
  }
  void push(Value v) { stack_.push_back(std::move(v)); }
  Value pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) bad("stack underflow");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const Value& top() {
    if (stack_.empty()) bad("stack underflow");
    return stack_.back();
  }
  Value& top_ref(Value::Kind kind) {
    if (stack_.empty() || stack_.back().kind != kind) bad("unexpected value on the stack");
    return stack_.back();
  }
  Value memo(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) bad("unknown memo entry");
    return it->second;
  }
  List since_mark() {
    if (marks_.empty()) bad("no MARK");
    size_t m = marks_.back();
    marks_.pop_back();
    List items(std::make_move_iterator(stack_.begin() + m), std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }

  const std::string& path_;
  const std::string& b_;
  size_t at_;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, Value> memo_;
};

// The dicts' integers, in array order.
torch::Tensor release_sizes(const std::string& path, const Value& array) {
  // ndarray._reconstruct(...) then BUILD with (version, shape, dtype, fortran, items).
  if (array.kind != Value::Object || array.items[2].kind != Value::Seq || array.items[2].items.size() != 5 ||
      array.items[2].items[4].kind != Value::Seq)
    fail(path, ": the pickle is not a NumPy object array");
  const List& items = array.items[2].items[4].items;
  auto wh = torch::empty({static_cast<int64_t>(items.size()), 2});
  for (size_t n = 0; n < items.size(); ++n) {
    const Value& d = items[n];
    if (d.kind != Value::Dict) fail(path, ": element ", n, " is not a dict");
    for (const char* key : {"image_w", "image_h"}) {
      const Value* found = nullptr;
      for (size_t k = 0; k + 1 < d.items.size(); k += 2)
        if (d.items[k].kind == Value::Str && d.items[k].s == key) found = &d.items[k + 1];
      if (!found || found->kind != Value::Int) fail(path, ": element ", n, " has no integer '", key, "'");
      wh[n][key == std::string("image_w") ? 0 : 1] = static_cast<float>(found->i);
    }
  }
  return wh;
}

}  // namespace

ImageSizes read_image_sizes(const std::string& path) {
  ImageSizes out;
  out.path = path;
  const std::string head = read_file(path);
  // An object array's header says '|O'; anything else is a plain .npy.
  if (head.compare(0, 6, "\x93NUMPY") == 0 && head.size() > 10) {
    const bool v1 = head[6] == 1;
    const size_t len =
        v1 ? (uint8_t(head[8]) | uint8_t(head[9]) << 8)
           : (uint8_t(head[8]) | uint8_t(head[9]) << 8 | uint8_t(head[10]) << 16 | uint32_t(uint8_t(head[11])) << 24);
    const size_t start = v1 ? 10 : 12;
    if (start + len <= head.size() && head.substr(start, len).find("'|O'") != std::string::npos) {
      out.wh = release_sizes(path, PickleReader(path, head, start + len).run());
      out.release_dicts = true;
      return out;
    }
  }
  NpyArray a = NpyArray::open(path);
  if (a.shape().size() != 2 || a.shape()[1] != 2) fail(path, ": expected shape (N, 2): width, height per image");
  if (a.dtype() != NpyDType::Float32 && a.dtype() != NpyDType::Float16)
    fail(path, ": expected float32 or float16 values (N, 2)");
  out.wh = a.rows(0, a.rows());
  return out;
}

}  // namespace sm
