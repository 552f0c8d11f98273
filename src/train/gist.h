// GISTEmbedLoss (sentence-transformers): MultipleNegativesRankingLoss whose in-batch
// candidates a frozen guide model screens for false negatives.
//
// Columns: anchor, positive, then any number of hard-negative columns; batch.guide holds
// the guide model's embeddings of the same texts. Each anchor i is scored (cosine /
// temperature) against every positive, with contrast_anchors every anchor, with
// contrast_positives its positive against every positive, and every negative, all of the
// global batch; the label is its own positive. A candidate whose guide similarity exceeds
// the guide's anchor-positive similarity s_i (absolute: > s_i - margin; relative:
// > s_i x (1 - margin)) is dropped (-inf), the label excepted: it is probably a positive
// in disguise. Computed as sentence-transformers computes it on one device holding the
// global batch (docs/training.md says where its multi-device path differs).
#pragma once

#include "train/loss.h"

namespace disttune {

class Gist final : public Loss {
 public:
  enum class Margin { Absolute, Relative };
  struct Options {
    double temperature = 0.01;
    Margin strategy = Margin::Absolute;
    double margin = 0.0;
    bool contrast_anchors = true;
    bool contrast_positives = true;
  };
  explicit Gist(Options opt);
  std::string name() const override { return "gist"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 2; }
  int max_columns() const override { return -1; }
  bool needs_guide() const override { return true; }
  // 5 per block of scores (anchor-positive, the contrasts, each negative): the model's and the
  // guide's similarities and the drop mask come on top of MNRL's (measured 14.1 at 2 roles
  // and 18.4 at 3, with both contrasts, against 15 and 20).
  double loss_matrices(int roles) const override {
    return 5.0 * (roles - 1 + opt_.contrast_anchors + opt_.contrast_positives);
  }
  const Options& options() const { return opt_; }

 private:
  Options opt_;
};

}  // namespace disttune
