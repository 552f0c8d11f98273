// Distillation from a teacher's scores of (anchor, positive, negative_1 .. negative_n) rows,
// as sentence-transformers' MarginMSELoss and DistillKLDivLoss compute it. The student
// scores each row's anchor against its own positive and negatives with
// util.pairwise_dot_score (their default) or util.pairwise_cos_sim; both losses are means
// over the global batch, so each rank sums its rows' terms and divides by the global count.
#pragma once

#include "train/loss.h"

namespace disttune {

// MarginMSELoss (Hofstätter et al. 2021, arXiv:2010.02666): the student's margins
// sim(anchor, positive) - sim(anchor, negative_i) regressed onto the teacher's, nn.MSELoss
// (mean over rows and negatives). Labels: [b] (one negative), [b, negatives] margins, or
// [b, negatives + 1] teacher scores (positive first), from which the margins are taken.
class MarginMse final : public Loss {
 public:
  explicit MarginMse(bool cosine) : cosine_(cosine) {}
  std::string name() const override { return "margin_mse"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 3; }
  int max_columns() const override { return -1; }
  bool needs_labels() const override { return true; }
  bool takes_label_width(int width, int columns) const override {
    return width == columns - 2 || width == columns - 1;
  }

 private:
  bool cosine_;
};

// DistillKLDivLoss (Lin et al. 2020, arXiv:2010.11386): KL(softmax(teacher / T) ||
// log_softmax(student / T)) over each row's positive and negatives, nn.KLDivLoss
// "batchmean" (summed over the candidates, averaged over rows), times T^2. Labels:
// [b, negatives + 1] teacher scores, positive first (sentence-transformers would also take
// (anchor, positive) alone, where the distribution has one candidate and the loss is 0).
class DistillKlDiv final : public Loss {
 public:
  DistillKlDiv(bool cosine, double temperature) : cosine_(cosine), temperature_(temperature) {}
  std::string name() const override { return "distill_kl_div"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 3; }
  int max_columns() const override { return -1; }
  bool needs_labels() const override { return true; }
  bool takes_label_width(int width, int columns) const override { return width == columns - 1; }
  double temperature() const { return temperature_; }

 private:
  bool cosine_;
  double temperature_;
};

// MSELoss (Reimers & Gurevych 2020, arXiv:2004.09813): every text of a row is regressed onto
// the teacher's embedding of the row's first text (the source sentence; its translations
// follow it in the multilingual recipe), nn.MSELoss over all rows, columns and dimensions.
// The targets come in batch.guide[0]: the trainer runs the teacher (loss.teacher) on the
// first column only. The teacher's dimension must be the model's; under MatryoshkaLoss the
// targets are truncated with the embeddings (not renormalised), as sentence-transformers does
// with labels that are embeddings.
class Mse final : public Loss {
 public:
  std::string name() const override { return "mse"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 1; }
  int max_columns() const override { return -1; }
  bool needs_guide() const override { return true; }
  int guide_columns(int /*columns*/) const override { return 1; }
  bool guide_is_target() const override { return true; }
};

}  // namespace disttune
