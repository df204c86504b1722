// Caption parsing with CMU's Link Grammar: tokens aligned with tokenize(),
// universal POS tags, dependency edges and a textual scene graph.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "scenematch/data/caption_graph.h"

namespace sm {

class CaptionParser {
 public:
  CaptionParser();  // loads the English dictionary (about 50 ms, once)
  ~CaptionParser();
  // Never throws on bad input: an empty or invalid line gives quality "empty",
  // no linkage gives a tagger-only result (quality "tagger").
  CaptionGraph parse(const std::string& caption);
  // One Link Grammar parse of the caption as written (lower-cased, no
  // prefix, no null words) and nothing else: the floor under what parse()
  // costs, which tries up to five readings. Whether it found a complete
  // linkage. For bench_parse.
  bool parse_once(const std::string& caption);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sm
