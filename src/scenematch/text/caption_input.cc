#include "scenematch/text/caption_input.h"

#include <cctype>

#include "scenematch/core/error.h"
#include "scenematch/data/tokenizer.h"

namespace sm {
namespace {

// Offset of the first byte that breaks UTF-8 (overlongs and surrogates
// included), or -1 when the text is valid.
long invalid_utf8_at(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return static_cast<long>(i);
    unsigned cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return static_cast<long>(i);
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static const unsigned kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return static_cast<long>(i);
    i += len;
  }
  return -1;
}

bool blank(const std::string& s) {
  for (unsigned char c : s)
    if (!std::isspace(c)) return false;
  return true;
}

}  // namespace

CaptionProblem caption_problem(const std::string& caption) {
  if (blank(caption)) return CaptionProblem::empty;
  if (invalid_utf8_at(caption) >= 0) return CaptionProblem::invalid_utf8;
  if (static_cast<int>(tokenize(caption).size()) > kMaxParseTokens) return CaptionProblem::too_long;
  return CaptionProblem::none;
}

std::string describe_caption_problem(const std::string& caption) {
  switch (caption_problem(caption)) {
    case CaptionProblem::none:
      return "";
    case CaptionProblem::empty:
      return "empty caption: empty parse";
    case CaptionProblem::invalid_utf8:
      return cat("not valid UTF-8 (byte ", invalid_utf8_at(caption), "): empty parse");
    case CaptionProblem::too_long:
      return cat(tokenize(caption).size(), " tokens, more than ", kMaxParseTokens, ": tagged without a parse");
  }
  return "";
}

}  // namespace sm
