// ContrastiveLoss (sentence-transformers, size_average): mean over the global batch of
// 0.5 * (label * d^2 + (1 - label) * relu(margin - d)^2), cosine distance and margin 0.5
// by default. Columns: sentence1, sentence2; labels: [b] 1 (similar) / 0 (dissimilar).
#pragma once

#include "train/loss.h"
#include "train/similarity.h"

namespace disttune {

class Contrastive final : public Loss {
 public:
  explicit Contrastive(Distance distance = Distance::Cosine, double margin = 0.5);
  std::string name() const override { return "contrastive"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 2; }
  int max_columns() const override { return 2; }
  bool needs_labels() const override { return true; }

 private:
  Distance distance_;
  double margin_;
};

}  // namespace disttune
