// ContrastiveLoss (sentence-transformers, size_average): mean over the global batch of
// 0.5 * (label * d^2 + (1 - label) * relu(margin - d)^2), cosine distance and margin 0.5
// by default. Columns: sentence1, sentence2; labels: [b] 1 (similar) / 0 (dissimilar).
//
// OnlineContrastiveLoss: the same terms (without the 0.5) on the hard pairs only, summed:
// positives farther apart than the closest negative (when there are two or more negatives;
// else than the positives' mean distance), and negatives closer than the farthest positive
// (two or more positives; else than the negatives' mean). sentence-transformers picks them
// within a device's batch; here within the global batch, as every loss here sees it: the
// counts, extremes and means are reduced over the ranks. Pairs labelled neither 0 nor 1
// take no part, as there.
#pragma once

#include "train/loss.h"
#include "train/similarity.h"

namespace disttune {

// What the two share: labelled (sentence1, sentence2) pairs, a distance and a margin.
class LabelledPairLoss : public Loss {
 public:
  LabelledPairLoss(Distance distance, double margin) : distance_(distance), margin_(margin) {}
  int min_columns() const override { return 2; }
  int max_columns() const override { return 2; }
  bool needs_labels() const override { return true; }

 protected:
  // The distance of each of this rank's pairs, float32, differentiable.
  at::Tensor distances(const LossBatch& batch) const;
  Distance distance_;
  double margin_;
};

class Contrastive final : public LabelledPairLoss {
 public:
  explicit Contrastive(Distance distance = Distance::Cosine, double margin = 0.5)
      : LabelledPairLoss(distance, margin) {}
  std::string name() const override { return "contrastive"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
};

class OnlineContrastive final : public LabelledPairLoss {
 public:
  explicit OnlineContrastive(Distance distance = Distance::Cosine, double margin = 0.5)
      : LabelledPairLoss(distance, margin) {}
  std::string name() const override { return "online_contrastive"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
};

}  // namespace disttune
