// TripletLoss: mean over the global batch of relu(d(anchor, positive) - d(anchor, negative)
// + margin); euclidean by default, margin 5, as sentence-transformers documents it.
// Per-row terms need no gather: each rank sums its rows and divides by the global count.
#pragma once

#include "train/loss.h"
#include "train/similarity.h"

namespace disttune {

class Triplet final : public Loss {
 public:
  explicit Triplet(Distance distance = Distance::Euclidean, double margin = 5.0);
  std::string name() const override { return "triplet"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 3; }
  int max_columns() const override { return 3; }

 private:
  Distance distance_;
  double margin_;
};

}  // namespace disttune
