// Dynamic loss scaling for fp16 training, as torch.cuda.amp.GradScaler: the loss is
// multiplied by scale() before backward; unscale() divides the gradients by it and
// reports whether any is inf/nan (agreed over ranks); the step is skipped on overflow;
// update() halves the scale on overflow and doubles it after `growth_interval`
// consecutive clean steps. Disabled (scale 1, never skips) for fp32 and bf16.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace disttune {

struct Dist;

struct GradScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions opt = {});
  bool enabled() const { return opt_.enabled; }
  double scale() const { return opt_.enabled ? scale_ : 1.0; }

  // Gradients *= 1/scale (float32 reciprocal, as torch). Returns true when any gradient
  // on any rank holds an inf or nan (one all-reduce MAX). Call after the gradient
  // all-reduce and before clipping. Disabled: only checks, so a NaN policy can use it.
  bool unscale(Dist& d, const std::vector<at::Tensor>& params);
  // Ends the step: backoff after an overflow, growth after growth_interval clean steps.
  void update(bool found_inf);

  // Checkpoint state.
  int64_t growth_tracker() const { return growth_tracker_; }
  void load_state(double scale, int64_t growth_tracker);

 private:
  GradScalerOptions opt_;
  double scale_;
  int64_t growth_tracker_ = 0;
};

}  // namespace disttune
