// ScoredSet: held-out sentence pairs with gold similarity scores (the scored-pairs format),
// evaluated as sentence-transformers' EmbeddingSimilarityEvaluator evaluates them.
#pragma once

#include <string>
#include <vector>

namespace disttune {

struct ScoredSet {
  std::vector<std::string> sentence1, sentence2;  // pair i: sentence1[i], sentence2[i]
  std::vector<float> scores;                      // the gold score of pair i
  bool empty() const { return scores.empty(); }
};

}  // namespace disttune
