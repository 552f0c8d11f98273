#include "train/grad_scaler.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "common/check.h"
#include "dist/dist.h"

namespace disttune {

GradScaler::GradScaler(GradScalerOptions opt) : opt_(opt), scale_(opt.init_scale) {
  DT_CHECK(opt_.init_scale > 0 && opt_.growth_factor > 1 && opt_.backoff_factor > 0 &&
               opt_.backoff_factor < 1 && opt_.growth_interval > 0,
           "GradScaler: invalid options");
}

bool GradScaler::unscale(Dist& d, const std::vector<at::Tensor>& params) {
  at::NoGradGuard no_grad;
  // torch: inv_scale = scale.double().reciprocal().float()
  const float inv = static_cast<float>(1.0 / scale());
  bool found = false;
  for (const at::Tensor& p : params) {
    at::Tensor g = p.grad();
    if (!g.defined()) continue;
    if (opt_.enabled) g.mul_(inv);
    if (!found && !at::isfinite(g).all().item<bool>()) found = true;
  }
  return d.comm->all_reduce_int(found ? 1 : 0, ReduceOp::Max) != 0;
}

void GradScaler::update(bool found_inf) {
  if (!opt_.enabled) return;
  if (found_inf) {
    scale_ *= opt_.backoff_factor;
    growth_tracker_ = 0;
    return;
  }
  if (++growth_tracker_ == opt_.growth_interval) {
    scale_ *= opt_.growth_factor;
    growth_tracker_ = 0;
  }
}

void GradScaler::load_state(double scale, int64_t growth_tracker) {
  DT_REQUIRE(scale > 0 && growth_tracker >= 0, "grad scaler state: scale ", scale,
             ", growth tracker ", growth_tracker);
  scale_ = scale;
  growth_tracker_ = growth_tracker;
}

}  // namespace disttune
