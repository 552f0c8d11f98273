#include "train/margin_mse.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "dist/dist.h"
#include "train/similarity.h"

namespace disttune {

at::Tensor MarginMse::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  const at::Tensor anchor = loss_dtype(batch.columns[0]);
  auto sim = [&](const at::Tensor& other) {
    const at::Tensor x = loss_dtype(other);
    return cosine_ ? pairwise_cos_sim(anchor, x) : (anchor * x).sum(-1);
  };
  const at::Tensor pos = sim(batch.columns[1]);
  const int64_t negatives = static_cast<int64_t>(batch.columns.size()) - 2;
  std::vector<at::Tensor> margins;
  for (int64_t i = 0; i < negatives; ++i) margins.push_back(pos - sim(batch.columns[2 + i]));
  const at::Tensor margin = at::stack(margins, 1);  // [b, negatives]

  at::Tensor labels = batch.labels.to(margin.options());
  if (labels.dim() == 1) labels = labels.unsqueeze(1);
  if (labels.size(1) == negatives + 1)  // teacher scores: positive, then each negative
    labels = labels.narrow(1, 0, 1) - labels.narrow(1, 1, negatives);
  DT_CHECK(labels.size(1) == negatives, "margin_mse: labels ", batch.labels.sizes(), " for ", negatives,
           " negatives (a margin per negative or the scores of the positive and each negative: ", negatives,
           " or ", negatives + 1, " per row)");
  const int64_t total = d.comm->all_reduce_int(anchor.size(0), ReduceOp::Sum);
  DT_CHECK(total > 0, "margin_mse: the global batch is empty");
  return (margin - labels).pow(2).sum() / static_cast<double>(total * negatives);
}

}  // namespace disttune
