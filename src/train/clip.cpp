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

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  at::Tensor norm = total_norm(params);
  if (!norm.defined()) return 0.0;
  // Multiplying by a coefficient clamped to 1 (rather than branching) keeps the
  // computation on the device, as torch does.
  at::Tensor coef = at::clamp_max(max_norm / (norm + 1e-6), 1.0);
  for (const at::Tensor& p : params)
    if (p.grad().defined()) p.grad().detach().mul_(coef.to(p.grad().device()));
  return norm.item<double>();
}

}  // namespace disttune
