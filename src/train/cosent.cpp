#include "train/cosent.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "dist/dist.h"
#include "train/all_gather.h"
#include "train/similarity.h"

namespace disttune {

Cosent::Cosent(double scale, bool angle) : scale_(scale), angle_(angle) {}

at::Tensor Cosent::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  at::Tensor a = loss_dtype(batch.columns[0]), b = loss_dtype(batch.columns[1]);
  // Gathering one score per row instead of two embedding rows keeps the traffic tiny.
  const std::vector<int64_t> counts = gather_row_counts(d, a.size(0));
  DT_REQUIRE(!angle_ || a.size(1) % 2 == 0, "loss.name: angle needs an even embedding dimension (real and "
             "imaginary halves), got ", a.size(1), " (check loss.matryoshka_dims)");
  const at::Tensor sim = angle_ ? pairwise_angle_sim(a, b) : pairwise_cos_sim(a, b);
  at::Tensor scores = all_gather_with_grad(d, sim * scale_, counts);
  at::Tensor labels = all_gather_values(d, batch.labels.to(at::kFloat).to(a.device()), counts);
  DT_CHECK(scores.size(0) > 0, "cosent: the global batch is empty");
  // As sentence-transformers: pairs not ordered by label are pushed to -1e12 (exp = 0),
  // and the leading 0 is the "1 +" inside the log.
  at::Tensor diff = scores.unsqueeze(1) - scores.unsqueeze(0);
  at::Tensor ordered = (labels.unsqueeze(1) < labels.unsqueeze(0)).to(at::kFloat);
  diff = diff - (1 - ordered) * 1e12;
  at::Tensor all = at::cat({at::zeros({1}, diff.options()), diff.reshape(-1)}, 0);
  return at::logsumexp(all, {0}) / static_cast<double>(d.world_size);
}

}  // namespace disttune
