#include "scenematch/data/tokenizer.h"

#include <cctype>

namespace sm {
namespace {

bool is_word_char(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

// Splits NLTK-style contractions off a lowercase word: "don't" -> "do" "n't",
// "dog's" -> "dog" "'s", "they're" -> "they" "'re".
void push_word(std::string w, std::vector<std::string>& out) {
  if (w.empty()) return;
  static const char* kClitics[] = {"n't", "'s", "'re", "'ve", "'ll", "'d", "'m"};
  for (const char* c : kClitics) {
    std::string cl(c);
    if (w.size() > cl.size() && w.compare(w.size() - cl.size(), cl.size(), cl) == 0) {
      out.push_back(w.substr(0, w.size() - cl.size()));
      out.push_back(cl);
      return;
    }
  }
  out.push_back(std::move(w));
}

}  // namespace

std::vector<std::string> tokenize(const std::string& caption) {
  std::vector<std::string> out;
  std::string word;
  const size_t n = caption.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = caption[i];
    if (is_word_char(c)) {
      word += static_cast<char>(std::tolower(c));
      continue;
    }
    bool inner = !word.empty() && i + 1 < n && is_word_char(static_cast<unsigned char>(caption[i + 1]));
    // Apostrophes inside words stay (clitics are split after), as do hyphens
    // ("t-shirt") and decimal points/commas between digits ("1.5").
    if (inner && (c == '\'' || c == '-')) {
      word += static_cast<char>(c);
      continue;
    }
    if (inner && (c == '.' || c == ',') && std::isdigit(static_cast<unsigned char>(word.back())) &&
        std::isdigit(static_cast<unsigned char>(caption[i + 1]))) {
      word += static_cast<char>(c);
      continue;
    }
    push_word(std::move(word), out);
    word.clear();
    if (!std::isspace(c)) out.emplace_back(1, static_cast<char>(c));
  }
  push_word(std::move(word), out);
  return out;
}



CaptionGraph tokens_only(const std::string& caption) {
  CaptionGraph g;
  g.tokens = tokenize(caption);
  g.pos.assign(g.tokens.size(), Pos::X);
  g.quality = "tokens";
  return g;
}

}  // namespace sm
