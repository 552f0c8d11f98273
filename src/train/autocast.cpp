#include "train/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace disttune {

// libtorch 2.4 replaced the CUDA-only setters with per-device-type ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define DT_AUTOCAST_PER_DEVICE 1
#endif

AutocastScope::AutocastScope(bool on, at::ScalarType dtype) : on_(on) {
  if (!on_) return;
#ifdef DT_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
  at::autocast::set_enabled(true);
  at::autocast::set_autocast_gpu_dtype(dtype);
#endif
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!on_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#ifdef DT_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
  at::autocast::set_enabled(false);
#endif
}

}  // namespace disttune
