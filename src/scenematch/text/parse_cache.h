// Caption graphs for a whole caption file: parsed once in parallel, cached
// next to the data in a file keyed by the caption file's size and hash, so
// later runs load them instantly.
#pragma once
#include <string>
#include <vector>

#include "scenematch/data/caption_graph.h"

namespace sm {

// parse=false: tokens only (no parser run). parse=true: full parses, from the
// cache when it is valid, else parsed with `threads` threads and cached.
std::vector<CaptionGraph> caption_graphs(const std::vector<std::string>& captions, const std::string& caption_file,
                                         bool parse, int threads = 0);

// A cache file written for exactly these captions; throws Error naming what is
// stale or corrupt (caption_graphs() then parses again).
std::vector<CaptionGraph> read_parse_cache(const std::string& path, const std::vector<std::string>& captions);

}  // namespace sm
