// Mixed precision: while an AutocastScope is alive, the operators ATen's autocast covers on
// its device type (matrix products, attention) run in the given dtype; the rest stays
// float32. CUDA takes bf16 or fp16; the CPU takes bf16, and its products then run on
// oneDNN's bf16 kernels (AMX or AVX512-BF16 where the CPU has them, an emulation otherwise).
// The trainer and the benchmarks wrap the encoder's forward in one; losses upcast.
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace disttune {

class AutocastScope {
 public:
  // on = false: a no-op scope (fp32 runs).
  AutocastScope(bool on, at::ScalarType dtype, at::DeviceType device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_;
  at::DeviceType device_;
};

// The autocast setting in effect on `device`, so that work replayed later (gradient
// checkpointing's recomputation during backward, outside the trainer's scope) runs under
// the setting the first pass had: AutocastScope(state.on, state.dtype, device).
struct AutocastState {
  bool on = false;
  at::ScalarType dtype = at::kFloat;
};
AutocastState autocast_state(at::DeviceType device);

// Whether CPU autocast is on: the encoder's float32 CPU kernels (model/linear.h) then step
// aside for ATen's operators, which autocast casts.
bool cpu_autocast_enabled();

// Whether CPU autocast is on with bf16: kernels that take autocast's products then hand the
// next product its bf16 input themselves (model/add_layer_norm.h).
bool cpu_autocast_bf16();

}  // namespace disttune
