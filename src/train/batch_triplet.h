// sentence-transformers' batch triplet losses, for labeled texts (one text column and a class
// per text): every text of the global batch is an anchor, and its positives and negatives are
// the other texts of the batch with the same and with another class.
//
//   batch_hard_triplet               BatchHardTripletLoss: per anchor, relu(farthest positive
//                                    - nearest negative + margin); mean over the anchors
//   batch_hard_soft_margin_triplet   BatchHardSoftMarginTripletLoss: log(1 + exp(farthest
//                                    positive - nearest negative)); mean over the anchors
//   batch_semi_hard_triplet          BatchSemiHardTripletLoss: per (anchor, positive), the
//                                    nearest negative farther than the positive (else the
//                                    farthest negative); relu(d(a, p) - d(a, n) + margin)
//                                    summed over the pairs / the number of pairs
//   batch_all_triplet                BatchAllTripletLoss: relu(d(a, p) - d(a, n) + margin)
//                                    over every valid triplet, summed / the number of triplets
//                                    whose term is > 1e-16
//
// Distances as BatchHardTripletLossDistanceFunction computes them: euclidean from the dot
// products (||a||^2 - 2 a.b + ||b||^2, clamped at 0, with a zero distance's gradient zero)
// or cosine (1 - cos_sim). Margin 5 by default.
//
// Distributed: each rank's texts are the anchors of its rows against the whole gathered
// batch, so the loss is that of the global batch at any world size (sentence-transformers
// under DDP computes these losses per device, on the device's batch only). Counts (pairs,
// triplets) are all-reduced. Where the global batch has no two texts of one class,
// batch_semi_hard_triplet is 0 (sentence-transformers divides 0 by 0).
//
// Cost: batch_semi_hard_triplet and batch_all_triplet choose their terms on the host, anchor by
// anchor over its positives x its negatives (sum of P_i x N_i steps; at most rows x global^2 / 4,
// with two classes), and then differentiate only the [rows, global rows] distances.
// sentence-transformers builds [batch, batch, batch] tensors under autograd.
#pragma once

#include "train/loss.h"
#include "train/similarity.h"

namespace disttune {

class BatchTriplet final : public Loss {
 public:
  enum class Kind { Hard, HardSoftMargin, SemiHard, All };
  // distance: Euclidean or Cosine; margin unused by HardSoftMargin.
  BatchTriplet(Kind kind, Distance distance, double margin);
  std::string name() const override;
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 1; }
  int max_columns() const override { return 1; }
  bool needs_labels() const override { return true; }
  bool takes_class_labels() const override { return true; }

 private:
  Kind kind_;
  Distance distance_;
  double margin_;
};

// "batch_hard_triplet" -> Kind::Hard, ...; false for other names.
bool parse_batch_triplet(const std::string& name, BatchTriplet::Kind* kind);

}  // namespace disttune
