// The encoder's affine maps, y = x W^T + b (x [..., in], W [out, in], b [out] or undefined).
//
// Float32 CPU tensors go through oneDNN's sgemm when disttune is built with it (libdnnl-dev,
// the library libtorch itself links for its CPU primitives): oneDNN picks its kernels from
// the CPU it runs on, where OpenBLAS, which at::linear calls, follows OPENBLAS_CORETYPE and
// its own CPU table. On the development machine (Zen 5) one core's sgemm on the encoder's
// shapes: oneDNN 190-210 GFLOP/s; OpenBLAS 183-194 with its AVX-512 kernels and 99-104 with
// the AVX2 kernels that machine's environment pins (docs/benchmarks.md). Everything else
// (CUDA, bf16, a build without oneDNN, DISTTUNE_ONEDNN=0 in the environment) goes to
// at::linear. Gradients: x, W and b.
#pragma once

#include <ATen/ATen.h>

namespace disttune {

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// The float32 CPU path in use ("oneDNN sgemm", "ATen", ...), for logs and benchmark records.
const char* linear_backend();

}  // namespace disttune
