#include "scenematch/text/caption_parser.h"

#include "scenematch/data/tokenizer.h"

namespace sm {

struct CaptionParser::Impl {};

CaptionParser::CaptionParser() : impl_(std::make_unique<Impl>()) {}
CaptionParser::~CaptionParser() = default;

CaptionGraph CaptionParser::parse(const std::string& caption) {
  CaptionGraph g = tokens_only(caption);
  g.quality = g.tokens.empty() ? "empty" : "tagger";
  return g;
}

}  // namespace sm
