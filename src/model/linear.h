// The encoder's affine maps, y = x W^T + b (x [..., in], W [out, in], b [out] or undefined).
//
// Float32 CPU tensors run the product and both gradient products on oneDNN's sgemm
// (model/cpu_gemm.h) when disttune is built with it; everything else (CUDA, bf16, a build
// without oneDNN, DISTTUNE_ONEDNN=0) goes to at::linear. Gradients: x, W and b.
#pragma once

#include <ATen/ATen.h>

namespace disttune {

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// The float32 CPU path in use ("oneDNN sgemm", "ATen", ...), for logs and benchmark records.
const char* linear_backend();

}  // namespace disttune
