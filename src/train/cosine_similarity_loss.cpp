#include "train/cosine_similarity_loss.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "dist/dist.h"

namespace disttune {

at::Tensor CosineSimilarityLoss::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  const at::Tensor cos = at::cosine_similarity(loss_dtype(batch.columns[0]), loss_dtype(batch.columns[1]), 1, 1e-8);
  const int64_t total = d.comm->all_reduce_int(cos.size(0), ReduceOp::Sum);
  DT_CHECK(total > 0, "cosine_similarity: the global batch is empty");
  return (cos - batch.labels.to(at::kFloat)).pow(2).sum() / static_cast<double>(total);
}

}  // namespace disttune
