#include "train/distill.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "train/similarity.h"

namespace disttune {
namespace {

// [b, columns - 1]: the anchor's similarity to each of its own row's other texts.
at::Tensor row_scores(const LossBatch& batch, bool cosine) {
  const at::Tensor anchor = loss_dtype(batch.columns[0]);
  std::vector<at::Tensor> scores;
  for (size_t k = 1; k < batch.columns.size(); ++k) {
    const at::Tensor x = loss_dtype(batch.columns[k]);
    scores.push_back(cosine ? pairwise_cos_sim(anchor, x) : (anchor * x).sum(-1));
  }
  return at::stack(scores, 1);
}

}  // namespace

at::Tensor MarginMse::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  const at::Tensor scores = row_scores(batch, cosine_);
  const int64_t negatives = scores.size(1) - 1;
  const at::Tensor margin = scores.narrow(1, 0, 1) - scores.narrow(1, 1, negatives);  // [b, negatives]
  at::Tensor labels = batch.labels.to(margin.options());
  if (labels.dim() == 1) labels = labels.unsqueeze(1);
  if (labels.size(1) == negatives + 1)  // teacher scores: positive, then each negative
    labels = labels.narrow(1, 0, 1) - labels.narrow(1, 1, negatives);
  DT_CHECK(labels.size(1) == negatives, "margin_mse: labels ", batch.labels.sizes(), " for ", negatives,
           " negatives (a margin per negative or the scores of the positive and each negative: ", negatives,
           " or ", negatives + 1, " per row)");
  return (margin - labels).pow(2).sum() / static_cast<double>(global_rows(d, *this, batch) * negatives);
}

at::Tensor DistillKlDiv::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  const at::Tensor student = row_scores(batch, cosine_);
  DT_CHECK(batch.labels.dim() == 2 && batch.labels.size(1) == student.size(1), "distill_kl_div: labels ",
           batch.labels.sizes(), " for ", student.size(1), " texts beside the anchor (the teacher's score of each)");
  const at::Tensor log_q = at::log_softmax(student / temperature_, 1);
  const at::Tensor p = at::softmax(batch.labels.to(student.options()) / temperature_, 1);
  // nn.KLDivLoss: p (log p - log q), with 0 log 0 = 0.
  const at::Tensor kl = at::xlogy(p, p) - p * log_q;
  return kl.sum() * (temperature_ * temperature_) / static_cast<double>(global_rows(d, *this, batch));
}

at::Tensor Mse::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  const at::Tensor target = loss_dtype(batch.guide[0]);
  DT_CHECK(target.size(1) == batch.columns[0].size(1), "mse: the teacher's embeddings have ", target.size(1),
           " dimensions and the model's ", batch.columns[0].size(1));
  at::Tensor sum;
  for (const at::Tensor& c : batch.columns) {
    const at::Tensor term = (loss_dtype(c) - target).pow(2).sum();
    sum = sum.defined() ? sum + term : term;
  }
  const int64_t elements = global_rows(d, *this, batch) * static_cast<int64_t>(batch.columns.size()) * target.size(1);
  return sum / static_cast<double>(elements);
}

}  // namespace disttune
