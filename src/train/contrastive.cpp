#include "train/contrastive.h"

#include <ATen/ATen.h>

#include <limits>

#include "common/check.h"
#include "dist/dist.h"

namespace disttune {

at::Tensor LabelledPairLoss::distances(const LossBatch& batch) const {
  check_loss_batch(*this, batch);
  return pairwise_distance(distance_, loss_dtype(batch.columns[0]), loss_dtype(batch.columns[1]),
                           CosineKind::FunctionalCosineSimilarity);
}

at::Tensor Contrastive::forward(Dist& d, const LossBatch& batch) {
  const at::Tensor dist = distances(batch);
  const at::Tensor labels = batch.labels.to(at::kFloat);
  const int64_t total = global_rows(d, *this, batch);
  at::Tensor losses = 0.5 * (labels * dist.pow(2) + (1 - labels) * at::relu(margin_ - dist).pow(2));
  return losses.sum() / static_cast<double>(total);
}

at::Tensor OnlineContrastive::forward(Dist& d, const LossBatch& batch) {
  const at::Tensor dist = distances(batch);
  const at::Tensor labels = batch.labels.to(at::kFloat);
  const at::Tensor pos = labels == 1, neg = labels == 0;
  // The selection thresholds are statistics of the global batch (no gradient flows through
  // them, as none does through sentence-transformers' boolean masks).
  const at::Tensor dd = dist.detach().to(at::kDouble);
  const at::Tensor dp = dd.masked_select(pos), dn = dd.masked_select(neg);
  const double inf = std::numeric_limits<double>::infinity();
  auto& comm = *d.comm;
  const double n_pos = static_cast<double>(comm.all_reduce_int(dp.numel(), ReduceOp::Sum));
  const double n_neg = static_cast<double>(comm.all_reduce_int(dn.numel(), ReduceOp::Sum));
  const double max_pos = comm.all_reduce_scalar(dp.numel() ? dp.max().item<double>() : -inf, ReduceOp::Max);
  const double min_neg = comm.all_reduce_scalar(dn.numel() ? dn.min().item<double>() : inf, ReduceOp::Min);
  const double sum_pos = comm.all_reduce_scalar(dp.sum().item<double>(), ReduceOp::Sum);
  const double sum_neg = comm.all_reduce_scalar(dn.sum().item<double>(), ReduceOp::Sum);
  // An empty side's mean is NaN, and nothing compares true against NaN: no pair is chosen.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double neg_below = n_pos > 1 ? max_pos : (n_neg > 0 ? sum_neg / n_neg : nan);
  const double pos_above = n_neg > 1 ? min_neg : (n_pos > 0 ? sum_pos / n_pos : nan);
  // The distances are float32: compare them with the thresholds rounded to float32.
  const at::Tensor hard_neg = neg & (dist.detach() < static_cast<float>(neg_below));
  const at::Tensor hard_pos = pos & (dist.detach() > static_cast<float>(pos_above));
  const at::Tensor terms = hard_pos.to(at::kFloat) * dist.pow(2) +
                           hard_neg.to(at::kFloat) * at::relu(margin_ - dist).pow(2);
  return terms.sum();
}

}  // namespace disttune
