#include "train/adaptive_layer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/check.h"
#include "data/random.h"

namespace disttune {

AdaptiveLayer::Weighting parse_layer_weighting(const std::string& name) {
  using Weighting = AdaptiveLayer::Weighting;
  if (name == "uniform") return Weighting::kUniform;
  if (name == "log") return Weighting::kLog;
  DT_REQUIRE(name == "linear", "layer weighting must be uniform, log or linear, got '", name, "'");
  return Weighting::kLinear;
}

AdaptiveLayer::AdaptiveLayer(std::unique_ptr<Loss> inner, const Options& o) : WrappedLoss(std::move(inner)), o_(o) {}

double AdaptiveLayer::layer_weight(int64_t layer) const {
  switch (o_.weighting) {
    case Weighting::kLog: return 1.0 / (1.0 + std::log1p(static_cast<double>(layer)));
    case Weighting::kLinear: return 1.0 / (1.0 + static_cast<double>(layer));
    case Weighting::kUniform: break;
  }
  return 1.0;
}

std::vector<int64_t> AdaptiveLayer::prior_layers(int64_t num_layers) const {
  std::vector<int64_t> idx(static_cast<size_t>(std::max<int64_t>(num_layers, 0)));
  std::iota(idx.begin(), idx.end(), 0);
  const int64_t n = o_.n_layers_per_step;
  if (n <= 0 || n >= num_layers) return idx;
  // n distinct states, uniformly: the first n of the step's permutation (its own stream, so
  // that the inner loss's draws stay independent of it).
  const std::vector<int64_t> perm = random_permutation(num_layers, derive_seed(step_seed_, 0x4C4159u));
  idx.assign(perm.begin(), perm.begin() + n);
  std::sort(idx.begin(), idx.end());
  return idx;
}

at::Tensor AdaptiveLayer::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  inner_->begin_step(derive_seed(step_seed_, 0));
  at::Tensor total = inner_->forward(d, batch) * o_.last_layer_weight;
  // A model of 0 layers (model.num_layers: 0) has no prior state: the last layer's loss alone,
  // as sentence-transformers returns it when there is no layer to draw.
  const std::vector<int64_t> layers = prior_layers(static_cast<int64_t>(batch.layers.size()));
  if (layers.empty()) return total;
  const auto stacked = [](const std::vector<at::Tensor>& columns) {
    std::vector<at::Tensor> parts;
    for (const at::Tensor& c : columns) parts.push_back(loss_dtype(c));
    return at::cat(parts, 0);
  };
  // KL(p_last || p_layer) over the softmax of each embedding / temperature, the last layer
  // a fixed teacher; "batchmean" over every embedded text (all columns) of the global batch.
  const bool kl = o_.kl_temperature > 0;
  at::Tensor teacher_log;
  double kl_rows = 0;
  if (kl) {
    teacher_log = at::log_softmax(stacked(batch.columns).detach() / o_.kl_temperature, -1);
    kl_rows = static_cast<double>(global_rows(d, *this, batch)) * static_cast<double>(batch.columns.size());
  }
  const double n = static_cast<double>(layers.size());
  for (int64_t l : layers) {
    const std::vector<at::Tensor>& columns = batch.layers[static_cast<size_t>(l)];
    DT_CHECK(columns.size() == batch.columns.size(), name(), ": prior layer ", l, " has ", columns.size(),
             " columns, the last ", batch.columns.size());
    LossBatch prior{columns, batch.labels, batch.guide, {}};
    inner_->begin_step(derive_seed(step_seed_, static_cast<uint64_t>(l) + 1));
    total = total + inner_->forward(d, prior) * (layer_weight(l) / n * o_.prior_layers_weight);
    if (kl) {
      const at::Tensor student_log = at::log_softmax(stacked(columns) / o_.kl_temperature, -1);
      const at::Tensor div = (teacher_log.exp() * (teacher_log - student_log)).sum() / kl_rows;
      total = total + div * (o_.kl_temperature * o_.kl_div_weight);
    }
  }
  return total;
}

}  // namespace disttune
