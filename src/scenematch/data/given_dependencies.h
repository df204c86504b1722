// GSMN's released dependency files, SPLIT_caps.json: for caption i, the list
// of CoreNLP dependency pairs [governor, dependent] over 1-based word
// positions, 0 standing for ROOT, the first pair being the ROOT relation.
// GSMN's sparse textual graph can take its edges from here instead of from
// our parser (gsmn --set text_edges=given).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scenematch/data/caption_graph.h"

namespace sm {

using DependencyPairs = std::vector<std::pair<int64_t, int64_t>>;

// Every caption's pairs as written, streamed (a COCO-train file holds
// millions of pairs). Errors name the file, the caption and what is wrong;
// `captions` is the count the file must hold (one entry per line of
// SPLIT_caps.txt).
std::vector<DependencyPairs> read_given_dependencies(const std::string& path, int64_t captions);

struct GivenEdgeCounts {
  int64_t kept = 0;     // undirected token edges set
  int64_t dropped = 0;  // pairs touching ROOT/<start> or past the caption's tokens
};

// Replaces every graph's edges with the file's, read as the release's
// build_sparse_graph reads them: the first pair of each caption is skipped,
// position p is token p - 1. Pairs the release would attach to <start> or
// <end>, or drop as out of range, are dropped (a CaptionGraph holds token
// edges only) and counted.
GivenEdgeCounts apply_given_dependencies(const std::string& path, std::vector<CaptionGraph>& graphs);

}  // namespace sm
