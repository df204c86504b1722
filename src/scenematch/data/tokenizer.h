// Caption tokenisation, the same rule as the field's NLTK word_tokenize on
// plain English captions, lowercased: words split on whitespace, punctuation
// split off as its own token, "n't" and "'s"-style clitics split from the word.
#pragma once
#include <string>
#include <vector>

#include "scenematch/data/caption_graph.h"

namespace sm {

std::vector<std::string> tokenize(const std::string& caption);

// A caption with only its tokens (for models that need no parse).
CaptionGraph tokens_only(const std::string& caption);

}  // namespace sm
