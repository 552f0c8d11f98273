#include "train/matryoshka.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "common/check.h"
#include "data/random.h"
#include "train/similarity.h"

namespace disttune {

Matryoshka::Matryoshka(std::unique_ptr<Loss> inner, std::vector<int64_t> dims,
                       std::vector<double> weights, std::string origin, int64_t n_dims_per_step)
    : WrappedLoss(std::move(inner)), origin_(std::move(origin)), n_dims_per_step_(n_dims_per_step) {
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

size_t Matryoshka::dims_per_step() const {
  const bool all = n_dims_per_step_ <= 0 || n_dims_per_step_ >= static_cast<int64_t>(dims_.size());
  return all ? dims_.size() : static_cast<size_t>(n_dims_per_step_);
}

void Matryoshka::begin_step(uint64_t seed) {
  step_seed_ = seed;
  inner_->begin_step(seed);
}

std::vector<size_t> Matryoshka::step_dims() const {
  const size_t n = dims_per_step();
  std::vector<size_t> idx(dims_.size());
  std::iota(idx.begin(), idx.end(), 0);
  if (n == dims_.size()) return idx;
  // n distinct dims, uniformly: the first n of the step's random permutation.
  const std::vector<int64_t> perm = random_permutation(static_cast<int64_t>(dims_.size()), step_seed_);
  idx.assign(perm.begin(), perm.begin() + static_cast<int64_t>(n));
  std::sort(idx.begin(), idx.end());
  return idx;
}

at::Tensor Matryoshka::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  const int64_t full = batch.columns[0].size(-1);
  DT_REQUIRE(dims_.front() <= full, origin_, ": dimension ", dims_.front(),
             " is larger than the embedding dimension ", full);
  at::Tensor total;
  for (size_t i : step_dims()) {
    LossBatch truncated;
    truncated.labels = batch.labels;
    // A guide model's embeddings are its own view, kept whole; targets (mse's teacher) are
    // cut as sentence-transformers cuts labels that are embeddings: labels[:, :dim].
    truncated.guide = batch.guide;
    if (inner_->guide_is_target())
      for (at::Tensor& g : truncated.guide) g = g.narrow(-1, 0, std::min(dims_[i], g.size(-1)));
    for (const at::Tensor& c : batch.columns)
      truncated.columns.push_back(matryoshka_shrink(loss_dtype(c), dims_[i]));
    at::Tensor term = inner_->forward(d, truncated) * weights_[i];
    total = total.defined() ? total + term : term;
  }
  return total;
}

}  // namespace disttune
