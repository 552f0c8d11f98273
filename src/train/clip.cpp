#include "train/clip.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace disttune {
namespace {

at::Tensor total_norm(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> norms;
  for (const at::Tensor& p : params)
    if (p.grad().defined()) norms.push_back(at::norm(p.grad().detach(), 2));
  if (norms.empty()) return {};
  // As torch: the norm of the per-parameter norms, on the first gradient's device.
  const at::Device dev = norms[0].device();
  for (at::Tensor& n : norms) n = n.to(dev);
  return at::norm(at::stack(norms), 2);
}

}  // namespace

double grad_norm(const std::vector<at::Tensor>& params) {
  at::NoGradGuard no_grad;
  at::Tensor n = total_norm(params);
  return n.defined() ? n.item<double>() : 0.0;
}

ClipCoefficient clip_coefficient(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  at::Tensor norm = total_norm(params);
  if (!norm.defined()) return {};
  // As torch: the coefficient in the norm's dtype (float32), clamped to 1.
  const at::Tensor coef = at::clamp_max(max_norm / (norm + 1e-6), 1.0);
  return {norm.item<double>(), coef.item<float>()};
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  const ClipCoefficient c = clip_coefficient(params, max_norm);
  for (const at::Tensor& p : params)
    if (p.grad().defined()) p.grad().detach().mul_(c.coef);
  return c.norm;
}

}  // namespace disttune
