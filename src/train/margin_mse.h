// MarginMSELoss (sentence-transformers; Hofstätter et al. 2021, arXiv:2010.02666): knowledge
// distillation from a teacher's scores. For each row and negative i the student's margin
// sim(anchor, positive) - sim(anchor, negative_i) is regressed onto the teacher's margin,
// nn.MSELoss: the mean over the global batch and the negatives of the squared difference.
// sim is util.pairwise_dot_score (the default, as in sentence-transformers) or
// util.pairwise_cos_sim. Columns: anchor, positive, negative[, negative_2 ...]; labels
// [b] (one negative), [b, negatives] margins, or [b, negatives + 1] teacher scores
// (positive first), from which the margins are taken as sentence-transformers does.
// Each rank sums its rows' terms and divides by the global row count x negatives.
#pragma once

#include "train/loss.h"

namespace disttune {

class MarginMse final : public Loss {
 public:
  explicit MarginMse(bool cosine) : cosine_(cosine) {}
  std::string name() const override { return "margin_mse"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 3; }
  int max_columns() const override { return -1; }
  bool needs_labels() const override { return true; }

 private:
  bool cosine_;
};

}  // namespace disttune
