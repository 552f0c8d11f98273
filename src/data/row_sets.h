// Held-out rows kept as rows for the evaluators that score them row by row (the
// retrieval sets are in ir_set.h):
// - ScoredSet: sentence pairs with gold similarity scores (the scored-pairs format), for the
//   similarity evaluator (sentence-transformers' EmbeddingSimilarityEvaluator);
// - TripletSet: (anchor, positive, negative[, negative_2 ...]) rows, for the triplet
//   evaluator (its TripletEvaluator). A row with k negatives is k triplets, as
//   mine_hard_negatives' "triplet" output would write it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace disttune {

struct TextDataset;

struct ScoredSet {
  std::vector<std::string> sentence1, sentence2;  // pair i: sentence1[i], sentence2[i]
  std::vector<float> scores;                      // the gold score of pair i
  bool empty() const { return scores.empty(); }
};

struct TripletSet {
  std::vector<std::string> anchors, positives;      // row i: anchors[i], positives[i]
  std::vector<std::vector<std::string>> negatives;  // negatives[j][i]: row i's (j+1)-th negative
  bool empty() const { return anchors.empty(); }
  int64_t triplets() const { return static_cast<int64_t>(anchors.size() * negatives.size()); }
};

// The given rows of a scored-pairs / triplets dataset (InternalError for another format).
ScoredSet scored_set_from_rows(const TextDataset& d, const std::vector<int64_t>& rows);
TripletSet triplet_set_from_rows(const TextDataset& d, const std::vector<int64_t>& rows);

// Labeled texts as triplets, as sentence-transformers' batch triplet examples build their
// TripletEvaluator's set from a labeled split: every text of `rows` whose class has another
// text among them is an anchor; its positive is the next text of its class (in the order of
// `rows`, wrapping round), its negative a text of another class drawn uniformly by a
// generator seeded with `seed`. Texts alone in their class, or in a split of one class,
// make no triplet. InternalError unless d.labeled().
TripletSet triplet_set_from_labeled(const TextDataset& d, const std::vector<int64_t>& rows, uint64_t seed);

}  // namespace disttune
