// AdaptiveLayerLoss: the inner loss on the last layer's embeddings, plus, on prior hidden
// states pooled as the model pools its last (a model cut after those layers), the inner
// loss again and a KL divergence that draws their embedding distribution toward the last
// layer's, as sentence-transformers does it (2D Matryoshka when the inner loss is a
// Matryoshka). n_layers_per_step of the prior states are drawn each step from the seed of
// begin_step, the same on every rank, as sentence-transformers draws them with
// random.sample; the inner loss draws afresh for each layer (its own dims, Matryoshka's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/loss.h"

namespace disttune {

class AdaptiveLayer final : public WrappedLoss {
 public:
  enum class Weighting { kUniform, kLog, kLinear };  // prior layer i: 1, 1/(1+ln(1+i)), 1/(1+i)
  struct Options {
    int64_t n_layers_per_step = 1;  // <= 0 or >= the prior states: all of them
    double last_layer_weight = 1;
    double prior_layers_weight = 1;
    double kl_div_weight = 1;
    double kl_temperature = 0.3;  // 0: no KL term
    Weighting weighting = Weighting::kUniform;
  };
  AdaptiveLayer(std::unique_ptr<Loss> inner, const Options& o);

  std::string name() const override { return "adaptive_layer(" + inner_->name() + ")"; }
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  void begin_step(uint64_t seed) override { step_seed_ = seed; }
  std::vector<int64_t> prior_layers(int64_t num_layers) const override;
  double layer_weight(int64_t layer) const;

 private:
  Options o_;
  uint64_t step_seed_ = 0;
};

AdaptiveLayer::Weighting parse_layer_weighting(const std::string& name);

}  // namespace disttune
