#include "model/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace disttune {

// libtorch 2.4 replaced the per-device-named setters with ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define DT_AUTOCAST_PER_DEVICE 1
#endif

namespace {

void set_autocast(at::DeviceType device, bool on, at::ScalarType dtype) {
#ifdef DT_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(device, on);
  if (on) at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == at::kCPU) {
    at::autocast::set_cpu_enabled(on);
    if (on) at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(on);
    if (on) at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

}  // namespace

AutocastScope::AutocastScope(bool on, at::ScalarType dtype, at::DeviceType device)
    : on_(on), device_(device) {
  if (!on_) return;
  set_autocast(device_, true, dtype);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!on_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(device_, false, at::kFloat);
}

AutocastState autocast_state(at::DeviceType device) {
  AutocastState s;
#ifdef DT_AUTOCAST_PER_DEVICE
  s.on = at::autocast::is_autocast_enabled(device);
  if (s.on) s.dtype = at::autocast::get_autocast_dtype(device);
#else
  if (device == at::kCPU) {
    s.on = at::autocast::is_cpu_enabled();
    if (s.on) s.dtype = at::autocast::get_autocast_cpu_dtype();
  } else {
    s.on = at::autocast::is_enabled();
    if (s.on) s.dtype = at::autocast::get_autocast_gpu_dtype();
  }
#endif
  return s;
}

bool cpu_autocast_enabled() {
#ifdef DT_AUTOCAST_PER_DEVICE
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

bool cpu_autocast_bf16() {
#ifdef DT_AUTOCAST_PER_DEVICE
  return cpu_autocast_enabled() && at::autocast::get_autocast_dtype(at::kCPU) == at::kBFloat16;
#else
  return cpu_autocast_enabled() && at::autocast::get_autocast_cpu_dtype() == at::kBFloat16;
#endif
}

}  // namespace disttune
