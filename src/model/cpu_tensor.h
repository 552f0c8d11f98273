// The one test disttune's CPU kernels share before they read a tensor through data_ptr: a
// strided CPU tensor of the dtype the kernel is written for (anything else takes ATen's op);
// and the raw view of a bf16 tensor the bf16 kernels work on (model/bf16_rows.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>

#include <cstdint>

namespace disttune {

inline bool cpu_strided(const at::Tensor& t, at::ScalarType dtype) {
  return t.device().is_cpu() && t.scalar_type() == dtype && t.layout() == at::kStrided;
}

// A bf16 tensor's elements as their 16-bit patterns.
inline uint16_t* bf16_bits(const at::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<c10::BFloat16>()); }

}  // namespace disttune
