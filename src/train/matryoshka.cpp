#include "train/matryoshka.h"

#include <ATen/ATen.h>

#include <numeric>

#include "common/check.h"
#include "train/similarity.h"

namespace disttune {

Matryoshka::Matryoshka(std::unique_ptr<Loss> inner, std::vector<int64_t> dims,
                       std::vector<double> weights, std::string origin)
    : inner_(std::move(inner)), origin_(std::move(origin)) {
  DT_CHECK(inner_ != nullptr, "Matryoshka needs an inner loss");
  DT_REQUIRE(!dims.empty(), origin_, ": matryoshka needs at least one dimension");
  if (weights.empty()) weights.assign(dims.size(), 1.0);
  DT_REQUIRE(weights.size() == dims.size(), origin_, ": ", dims.size(),
             " matryoshka dims but ", weights.size(), " weights (loss.matryoshka_weights)");
  for (int64_t dim : dims) DT_REQUIRE(dim > 0, origin_, ": dimension ", dim, " must be > 0");
  // Largest first, each weight staying with its dim.
  std::vector<size_t> order(dims.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return dims[a] > dims[b]; });
  for (size_t i : order) {
    dims_.push_back(dims[i]);
    weights_.push_back(weights[i]);
  }
}

at::Tensor Matryoshka::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  const int64_t full = batch.columns[0].size(-1);
  DT_REQUIRE(dims_.front() <= full, origin_, ": dimension ", dims_.front(),
             " is larger than the embedding dimension ", full);
  at::Tensor total;
  for (size_t i = 0; i < dims_.size(); ++i) {
    LossBatch truncated;
    truncated.labels = batch.labels;
    truncated.guide = batch.guide;  // the guide's embeddings are not the model's: whole
    for (const at::Tensor& c : batch.columns)
      truncated.columns.push_back(matryoshka_shrink(loss_dtype(c), dims_[i]));
    at::Tensor term = inner_->forward(d, truncated) * weights_[i];
    total = total.defined() ? total + term : term;
  }
  return total;
}

}  // namespace disttune
