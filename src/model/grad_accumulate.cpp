#include "model/grad_accumulate.h"

#include <ATen/core/grad_mode.h>

namespace disttune {

at::Tensor accumulation_target(const at::Tensor& param) {
  if (!param.defined() || !param.is_leaf() || !param.requires_grad() || at::GradMode::is_enabled())
    return at::Tensor();
  const at::Tensor& g = param.grad();
  if (!g.defined() || g.requires_grad() || !g.is_contiguous() || g.sizes() != param.sizes() ||
      g.scalar_type() != param.scalar_type() || g.device() != param.device() || g.layout() != param.layout())
    return at::Tensor();
  return g;
}

}  // namespace disttune
