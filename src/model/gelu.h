// GELU, the exact (erf) form BERT uses: x * Phi(x), Phi the standard normal CDF.
//
// Under CPU autocast (training.precision bf16) the feed-forward's first product comes out in
// bf16, and ATen 1.13's bf16 gelu / gelu_backward convert to float and back around every
// vector operation: ~1.0 and ~1.5 ns per element inside a MiniLM step at one thread, ~11% of
// the bf16 step. disttune's AVX-512 kernels convert once, compute in float32 and round to
// bf16 (to nearest even, as ATen), one pass each way: ~0.7 and ~1.1 ns per element there.
//
// The arithmetic is ATen's vectorised erf (Abramowitz & Stegun 7.1.26: erfc(z) =
// t P(t) exp(-z^2), t = 1 / (1 + p z), absolute error < 1.5e-7), with Phi(x) taken as
// erfc(|x| / sqrt 2) / 2 for x < 0 instead of (1 + erf(x / sqrt 2)) / 2, which cancels
// (below x = -5 it is a few float steps of 6e-8, or 0); the backward reuses exp(-x^2 / 2) for the
// density: dx = dy (Phi(x) + x exp(-x^2 / 2) / sqrt(2 pi)).
#pragma once

#include <ATen/core/Tensor.h>

namespace disttune {

// GELU (erf form) with autograd. Contiguous bf16 CPU tensors on a CPU with AVX-512F run the
// kernels above; everything else at::gelu. In place when x needs no gradient.
at::Tensor gelu_erf(at::Tensor x);

// Whether gelu_erf() runs disttune's bf16 kernels on this CPU (AVX-512F).
bool gelu_bf16_kernel_available();

}  // namespace disttune
