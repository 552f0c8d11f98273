// CosineSimilarityLoss (sentence-transformers): the mean over the global batch of
// (cos(u, v) - label)^2, the squared error of each pair's cosine similarity
// (torch.cosine_similarity) against its gold score. Columns: sentence1, sentence2; labels:
// [b] scores, in the range of the cosine (sentence-transformers' examples scale STS scores
// to [0, 1]). Each rank sums its rows' terms and divides by the global row count.
#pragma once

#include "train/loss.h"

namespace disttune {

class CosineSimilarityLoss final : public Loss {
 public:
  std::string name() const override { return "cosine_similarity"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 2; }
  int max_columns() const override { return 2; }
  bool needs_labels() const override { return true; }
};

}  // namespace disttune
