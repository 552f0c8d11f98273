// TripletSet: held-out (anchor, positive, negative[, negative_2 ...]) rows, evaluated as
// sentence-transformers' TripletEvaluator evaluates triplets. A row with k negatives is k
// triplets, as mine_hard_negatives' "triplet" output would write it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace disttune {

struct TripletSet {
  std::vector<std::string> anchors, positives;      // row i: anchors[i], positives[i]
  std::vector<std::vector<std::string>> negatives;  // negatives[j][i]: row i's (j+1)-th negative
  bool empty() const { return anchors.empty(); }
};

}  // namespace disttune
