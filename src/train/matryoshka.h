// MatryoshkaLoss: sum over dims of weight x inner loss on embeddings truncated to the
// first `dim` components and renormalised (dims sorted large to small, weights default 1),
// as sentence-transformers does it. Wraps any loss; inside GradCache it wraps the loss
// computed on the cached embeddings, which is how sentence-transformers combines the two.
// With n_dims_per_step in [1, dims), each step takes that many of the dims, drawn from the
// seed of begin_step (the same on every rank), as sentence-transformers draws them with
// random.sample. A target in batch.guide (mse's) is truncated with the embeddings.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "train/loss.h"

namespace disttune {

class Matryoshka final : public WrappedLoss {
 public:
  // `origin` prefixes the error when a dim exceeds the embedding size (the config
  // location of loss.matryoshka_dims).
  Matryoshka(std::unique_ptr<Loss> inner, std::vector<int64_t> dims, std::vector<double> weights,
             std::string origin = "loss.matryoshka_dims", int64_t n_dims_per_step = -1);
  std::string name() const override { return "matryoshka(" + inner_->name() + ")"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  double loss_matrices(int roles) const override {
    return inner_->loss_matrices(roles) * static_cast<double>(dims_per_step());
  }
  void begin_step(uint64_t seed) override;
  // The indices into dims() this step uses, in order (all of them unless n_dims_per_step).
  std::vector<size_t> step_dims() const;
  const std::vector<int64_t>& dims() const { return dims_; }
  const std::vector<double>& weights() const { return weights_; }

 private:
  std::vector<int64_t> dims_;
  std::vector<double> weights_;
  std::string origin_;
  int64_t n_dims_per_step_;
  uint64_t step_seed_ = 0;
  size_t dims_per_step() const;
};

}  // namespace disttune
