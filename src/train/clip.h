// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_: the L2 norm over every
// parameter's gradient, then every gradient times min(1, max_norm / (norm + 1e-6)).
// Call it after GradReducer::all_reduce so that it sees the global gradient (identical on
// every rank, so no further collective is needed).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace disttune {

// Returns the total norm before clipping (inf/nan when a gradient is not finite; the
// gradients are then scaled like torch does, which the caller's NaN policy handles).
// Parameters without a gradient are skipped.
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

// The total L2 norm of the gradients without clipping.
double grad_norm(const std::vector<at::Tensor>& params);

// clip_grad_norm's norm and coefficient, min(1, max_norm / (norm + 1e-6)) in float32 as torch
// computes it, leaving the gradients as they are: AdamW::step(lr, coef) applies it in its
// fused pass, which saves the pass over every gradient that scaling them costs (~8 ms of a
// MiniLM step, 22.7 M gradients). coef is NaN where the norm is not finite.
struct ClipCoefficient {
  double norm = 0;
  float coef = 1;
};
ClipCoefficient clip_coefficient(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace disttune
