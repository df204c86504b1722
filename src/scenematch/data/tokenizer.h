// Caption tokenisation, the same rule as the field's NLTK word_tokenize on
// plain English captions, lowercased: words split on whitespace, punctuation
// split off as its own token, "n't" and "'s"-style clitics split from the word.
#pragma once
#include <string>
#include <vector>

namespace sm {

std::vector<std::string> tokenize(const std::string& caption);

}  // namespace sm
