// Checks a caption line before parsing, so every tool reports bad input the
// same way: empty lines and invalid UTF-8 get an empty parse, very long
// captions are tagged without a linkage.
#pragma once
#include <string>

namespace sm {

// Longer captions are tagged only: Link Grammar's time grows steeply with
// length and such lines are almost always run-ons or junk in these datasets.
constexpr int kMaxParseTokens = 60;

enum class CaptionProblem { none, empty, invalid_utf8, too_long };

CaptionProblem caption_problem(const std::string& caption);
// One line for a report, e.g. "not valid UTF-8 (byte 12)"; "" when none.
std::string describe_caption_problem(const std::string& caption);

}  // namespace sm
