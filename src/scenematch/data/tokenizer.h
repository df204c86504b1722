// Caption tokenisation: NLTK's word_tokenize (NLTKWordTokenizer, NLTK 3.8) on
// the lowercased caption taken as one sentence, the tokenizer of SCAN, GSMN
// and VSE∞, so token ids match the authors' loaders and released vocabularies.
#pragma once
#include <string>
#include <vector>

#include "scenematch/data/caption_graph.h"

namespace sm {

std::vector<std::string> tokenize(const std::string& caption);

// A caption with only its tokens (for models that need no parse).
CaptionGraph tokens_only(const std::string& caption);

}  // namespace sm
