#include "train/triplet.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "train/all_gather.h"

namespace disttune {

Triplet::Triplet(Distance distance, double margin) : distance_(distance), margin_(margin) {}

at::Tensor Triplet::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  at::Tensor a = loss_dtype(batch.columns[0]), p = loss_dtype(batch.columns[1]),
             n = loss_dtype(batch.columns[2]);
  const int64_t total = global_rows(d, *this, batch);
  at::Tensor pos = pairwise_distance(distance_, a, p, CosineKind::PairwiseCosSim);
  at::Tensor neg = pairwise_distance(distance_, a, n, CosineKind::PairwiseCosSim);
  return at::relu(pos - neg + margin_).sum() / static_cast<double>(total);
}

}  // namespace disttune
