#include "train/cosine_similarity_loss.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace disttune {

at::Tensor CosineSimilarityLoss::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  const at::Tensor cos = at::cosine_similarity(loss_dtype(batch.columns[0]), loss_dtype(batch.columns[1]), 1, 1e-8);
  const int64_t total = global_rows(d, *this, batch);
  return (cos - batch.labels.to(at::kFloat)).pow(2).sum() / static_cast<double>(total);
}

}  // namespace disttune
