// CoSENTLoss: log(1 + sum over pairs (i, j) with label_i < label_j of
// exp(scale * (cos_i - cos_j))), over every pair of the GLOBAL batch (scale 20).
// Columns: sentence1, sentence2; labels: [b] scores. AnglELoss (`angle`) is the same with
// pairwise_angle_sim in place of the cosine, as sentence-transformers derives it.
//
// The loss is a function of the whole global batch, not a mean of per-row terms: the
// per-row cosine scores and labels are all-gathered, every rank computes the same global
// value and returns 1/world_size of it (so the sum over ranks counts it once).
#pragma once

#include "train/loss.h"

namespace disttune {

class Cosent final : public Loss {
 public:
  explicit Cosent(double scale = 20.0, bool angle = false);
  std::string name() const override { return angle_ ? "angle" : "cosent"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 2; }
  int max_columns() const override { return 2; }
  bool needs_labels() const override { return true; }

 private:
  double scale_;
  bool angle_;
};

}  // namespace disttune
