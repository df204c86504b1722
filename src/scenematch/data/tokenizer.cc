#include "scenematch/data/tokenizer.h"

#include <regex>
#include <sstream>

namespace sm {
namespace {

// One substitution of NLTK's rule list. `trigger`: the rule can only match
// when one of these bytes occurs, so most captions skip most rules.
struct Rule {
  std::regex pattern;
  const char* replacement;
  const char* trigger;
};

// UTF-8 quote characters NLTK treats as punctuation.
#define SM_OPEN_QUOTES "\xc2\xab|\xe2\x80\x9c|\xe2\x80\x98|\xe2\x80\x9e"  // « “ ‘ „
#define SM_CLOSE_QUOTES "\xc2\xbb|\xe2\x80\x9d|\xe2\x80\x99"              // » ” ’
#define SM_QUOTE_BYTES "\xc2\xe2"                                         // lead bytes of those quotes

// NLTK's regexes in its order (starting quotes, punctuation, brackets, double
// dashes, then ending quotes and contractions on the text padded with spaces).
// The input is lowercase, so NLTK's case-insensitive variants reduce to these.
const std::vector<Rule>& leading_rules() {
  static const std::vector<Rule> rules = {
      {std::regex("(" SM_OPEN_QUOTES "|`+)"), " $1 ", "`" SM_QUOTE_BYTES},
      {std::regex("^\""), "``", "\""},
      {std::regex("(``)"), " $1 ", "`"},
      {std::regex("([ \\(\\[{<])(\"|'{2})"), "$1 `` ", "\"'"},
      {std::regex("(')(?!re|ve|ll|m|t|s|d|n)(\\w)\\b"), "$1 $2", "'"},
      {std::regex("([^\\.])(\\.)((?:[\\]\\)}>\"' ]|" SM_CLOSE_QUOTES ")*)\\s*$"), "$1 $2 $3 ", "."},
      {std::regex("([:,])([^\\d])"), " $1 $2", ":,"},
      {std::regex("([:,])$"), " $1 ", ":,"},
      {std::regex("\\.{2,}"), " $& ", "."},
      {std::regex("[;@#$%&]"), " $& ", ";@#$%&"},
      {std::regex("([^\\.])(\\.)([\\]\\)}>\"']*)\\s*$"), "$1 $2$3 ", "."},
      {std::regex("[?!]"), " $& ", "?!"},
      {std::regex("([^'])' "), "$1 ' ", "'"},
      {std::regex("[*]"), " $& ", "*"},
      {std::regex("[\\]\\[\\(\\)\\{\\}<>]"), " $& ", "[](){}<>"},
      {std::regex("--"), " -- ", "-"},
  };
  return rules;
}

const std::vector<Rule>& trailing_rules() {
  static const std::vector<Rule> rules = {
      {std::regex("(" SM_CLOSE_QUOTES ")"), " $1 ", SM_QUOTE_BYTES},
      {std::regex("''"), " '' ", "'"},
      {std::regex("\""), " '' ", "\""},
      {std::regex("([^' ])('s|'m|'d|') "), "$1 $2 ", "'"},
      {std::regex("([^' ])('ll|'re|'ve|n't) "), "$1 $2 ", "'"},
      // MacIntyre's contractions, as NLTK lists them.
      {std::regex("\\b(can)(not)\\b"), " $1 $2 ", "c"},
      {std::regex("\\b(d)('ye)\\b"), " $1 $2 ", "'"},
      {std::regex("\\b(gim)(me)\\b"), " $1 $2 ", "g"},
      {std::regex("\\b(gon)(na)\\b"), " $1 $2 ", "g"},
      {std::regex("\\b(got)(ta)\\b"), " $1 $2 ", "g"},
      {std::regex("\\b(lem)(me)\\b"), " $1 $2 ", "l"},
      {std::regex("\\b(more)('n)\\b"), " $1 $2 ", "'"},
      {std::regex("\\b(wan)(na)(?=\\s)"), " $1 $2 ", "w"},
      {std::regex(" ('t)(is)\\b"), " $1 $2 ", "'"},
      {std::regex(" ('t)(was)\\b"), " $1 $2 ", "'"},
  };
  return rules;
}

void apply(const std::vector<Rule>& rules, std::string& text) {
  for (const Rule& r : rules)
    if (text.find_first_of(r.trigger) != std::string::npos) text = std::regex_replace(text, r.pattern, r.replacement);
}

// Python's str.lower() for ASCII and the Latin-1 capitals (U+00C0..U+00DE but
// U+00D7), the non-ASCII capitals captions contain in practice.
std::string lowercase(const std::string& s) {
  std::string out = s;
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = out[i];
    if (c >= 'A' && c <= 'Z') {
      out[i] = static_cast<char>(c - 'A' + 'a');
    } else if (c == 0xc3 && i + 1 < out.size()) {
      unsigned char d = out[i + 1];
      if (d >= 0x80 && d <= 0x9e && d != 0x97) out[i + 1] = static_cast<char>(d + 0x20);
      ++i;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> tokenize(const std::string& caption) {
  std::string text = lowercase(caption);
  apply(leading_rules(), text);
  text = " " + text + " ";
  apply(trailing_rules(), text);
  std::vector<std::string> out;
  std::istringstream words(text);
  for (std::string w; words >> w;) out.push_back(std::move(w));
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
