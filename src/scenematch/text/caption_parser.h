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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sm
