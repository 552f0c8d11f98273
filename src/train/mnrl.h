// MultipleNegativesRankingLoss over the global batch (InfoNCE with in-batch negatives).
//
// Columns: anchor, positive, then any number of hard-negative columns. Every candidate
// column is all-gathered, so each anchor is scored (cosine x scale) against
// [all positives | all negative_1 | all negative_2 ...] of the GLOBAL batch in global row
// order; the label of anchor i is the global row of its own positive. With `dot`, the scores
// are dot products instead of cosines (sentence-transformers' similarity_fct=dot_score, for
// models whose similarity_fn_name is dot). With `symmetric`,
// the loss is MultipleNegativesSymmetricRankingLoss: the mean of the anchor->candidates
// term and the positive->all-anchors term.
#pragma once

#include "train/loss.h"

namespace disttune {

class Mnrl final : public Loss {
 public:
  explicit Mnrl(double scale = 20.0, bool symmetric = false, bool dot = false);
  std::string name() const override;
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 2; }
  int max_columns() const override { return -1; }
  double scale() const { return scale_; }
  bool symmetric() const { return symmetric_; }

 private:
  at::Tensor scores(const at::Tensor& a, const at::Tensor& b) const;  // [rows of a, rows of b] x scale
  double scale_;
  bool symmetric_, dot_;
};

}  // namespace disttune
