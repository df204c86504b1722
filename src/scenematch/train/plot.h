// Training curves as a PNG: mean loss (left axis) and validation rSum (right
// axis) per epoch, drawn by gnuplot.
#pragma once
#include <string>
#include <vector>

#include "scenematch/core/config.h"

namespace sm {

// records: log.jsonl objects with "epoch", "loss" and "rsum". Returns false,
// after one warning per process, when gnuplot is missing or fails: a plot is
// never worth failing a training run for.
bool plot_curves(const std::vector<Json>& records, const std::string& png_path, const std::string& title);

}  // namespace sm
