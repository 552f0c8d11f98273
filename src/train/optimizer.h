// AdamW as torch.optim.AdamW (the Hugging Face trainer's default): decoupled weight decay
// (param *= 1 - lr * weight_decay), bias-corrected moments, eps added after the sqrt, and
// no weight decay for biases and normalisation weights (the Hugging Face rule, by name).
//
// Float32 CPU parameters are updated by one fused pass per tensor (parameter, gradient and
// both moments read once), other devices and dtypes by torch's multi-tensor (_foreach)
// formulation; both follow torch's arithmetic order. State (exp_avg, exp_avg_sq, step)
// is exposed by parameter name for checkpoints.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace disttune {

using NamedParameters = std::vector<std::pair<std::string, at::Tensor>>;

// Hugging Face's rule: parameters named like a bias or a normalisation layer
// ("bias", "LayerNorm", "layer_norm", "rmsnorm", "norm", "..._norm") get no weight decay.
bool hf_weight_decay(const std::string& param_name);

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // torch.optim.AdamW's default is 0.01; HF passes args.weight_decay
};

struct AdamWState {
  at::Tensor exp_avg, exp_avg_sq;  // same shape, dtype and device as the parameter
  int64_t step = 0;                // updates applied to this parameter
};

class AdamW {
 public:
  enum class Impl { Auto, Fused, Foreach, PerTensor };  // Auto: Fused for fp32 CPU, else Foreach

  // Decay per parameter from hf_weight_decay(name).
  AdamW(NamedParameters params, AdamWOptions opt, Impl impl = Impl::Auto);
  // Decay decided by the caller (decays[i] for params[i]).
  AdamW(NamedParameters params, std::vector<bool> decays, AdamWOptions opt, Impl impl = Impl::Auto);

  // One update with learning rate `lr` (the schedule's value for this step). Parameters
  // without a gradient are skipped and keep their step count, as torch does. Every gradient
  // is taken times `grad_scale`: gradient clipping's coefficient (train/clip.h
  // clip_coefficient), applied inside the fused pass instead of in a pass over the gradients
  // of its own (the same float product as torch's clip_grad_norm_ then step()); the other
  // implementations scale the gradients in place first.
  void step(double lr, float grad_scale = 1.0f);

  const NamedParameters& params() const { return params_; }
  bool decays(size_t i) const { return decays_[i]; }
  const AdamWOptions& options() const { return opt_; }
  Impl impl() const { return impl_; }

  // Checkpoint access by parameter name. set_state checks shapes and takes copies.
  const AdamWState& state(const std::string& name) const;
  void set_state(const std::string& name, const AdamWState& s);

 private:
  size_t index_of(const std::string& name) const;
  void step_fused(size_t i, double lr, float grad_scale);
  void step_per_tensor(size_t i, double lr);
  void step_foreach(const std::vector<size_t>& idx, double lr, bool decay);

  NamedParameters params_;
  std::vector<bool> decays_;
  std::vector<AdamWState> state_;
  AdamWOptions opt_;
  Impl impl_;
};

}  // namespace disttune
