// The one test disttune's CPU kernels share before they read a tensor through data_ptr: a
// strided CPU tensor of the dtype the kernel is written for (anything else takes ATen's op).
#pragma once

#include <ATen/core/Tensor.h>

namespace disttune {

inline bool cpu_strided(const at::Tensor& t, at::ScalarType dtype) {
  return t.device().is_cpu() && t.scalar_type() == dtype && t.layout() == at::kStrided;
}

}  // namespace disttune
