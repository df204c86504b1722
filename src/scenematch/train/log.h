// The per-epoch training log: one JSON object per line in RUN_DIR/log.jsonl.
#pragma once
#include <string>
#include <vector>

#include "scenematch/core/config.h"

namespace sm {

// Rewrites the whole log atomically: after a resume the file always equals the
// records the checkpoint carries, with no half line from an interrupted run.
void write_log_jsonl(const std::string& path, const std::vector<Json>& records);
std::vector<Json> read_log_jsonl(const std::string& path);  // errors name file:line

// A record's per-epoch mean loss terms for the progress line: "rank 12.3  wd 4.56";
// empty when the model reports none.
std::string format_terms(const Json& record);

}  // namespace sm
