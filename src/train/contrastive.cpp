#include "train/contrastive.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "dist/dist.h"

namespace disttune {

Contrastive::Contrastive(Distance distance, double margin) : distance_(distance), margin_(margin) {}

at::Tensor Contrastive::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  at::Tensor a = loss_dtype(batch.columns[0]), b = loss_dtype(batch.columns[1]);
  at::Tensor labels = batch.labels.to(at::kFloat);
  const int64_t total = d.comm->all_reduce_int(a.size(0), ReduceOp::Sum);
  DT_CHECK(total > 0, "contrastive: the global batch is empty");
  at::Tensor dist = pairwise_distance(distance_, a, b, CosineKind::FunctionalCosineSimilarity);
  at::Tensor losses = 0.5 * (labels * dist.pow(2) + (1 - labels) * at::relu(margin_ - dist).pow(2));
  return losses.sum() / static_cast<double>(total);
}

}  // namespace disttune
