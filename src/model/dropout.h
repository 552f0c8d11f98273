// Training-mode dropout: each element zeroed with probability p, the others scaled by
// 1 / (1 - p), as at::dropout. On float32 CPU tensors the keep mask comes from a
// counter-based generator, Philox4x32-10 (the generator of cuRAND and of PyTorch's CUDA
// dropout), over the element index, keyed by 64 bits drawn from the default CPU generator:
// vectorised (AVX-512 or AVX2, picked at run time) forward and backward cost ~1 ns per
// element at one thread, where ATen's CPU dropout without MKL (Debian's) draws every
// Bernoulli serially through the generator and scales in more passes, ~7 ns: 13 dropouts per
// MiniLM encoder pass plus the attention probabilities are ~0.3 s of a 2-2.5 s step at one
// thread (`disttune_bench dropout`). The mask depends only on the key and the element's
// index, not on the thread count; backward keeps it as one byte per element (at::dropout
// keeps a float mask). bf16 CPU tensors (CPU autocast) take the same mask, scaled and
// rounded to nearest even in a second pass. Elsewhere (CUDA, other dtypes) at::dropout.
//
// Element i of a call keyed k keeps its value when word (i mod 64) / 16 of
// Philox4x32-10(counter = {c, c >> 32, 0, 0}, key = {k, k >> 32}), c = (i / 64) * 16 + i mod 16,
// is below round((1 - p) 2^32): 16 counters give 64 consecutive elements, in an order the
// vector loop produces without shuffles.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

#include "common/cpu_isa.h"

namespace disttune {

// Dropout with autograd; x itself when p == 0 (so callers need no guard). Requires 0 <= p < 1.
at::Tensor dropout(const at::Tensor& x, double p);

// The parts the attention kernel (model/attention.cpp) applies inside its own autograd
// function; float32 CPU tensors only.
uint64_t draw_dropout_key();  // 64 bits from the default CPU generator (under its lock)
struct DropoutDraw {
  at::Tensor out;   // x * keep / (1 - p), contiguous, x's shape
  at::Tensor keep;  // uint8, 1 where kept, x's shape
};
// `isa`: which form of the kernel (tests run each the CPU has; all draw the same mask).
DropoutDraw dropout_draw(const at::Tensor& x, double p, uint64_t key, CpuIsa isa = cpu_isa_best());
// dropout_draw's mask alone, for a tensor of `sizes` (applied where the caller computes).
at::Tensor dropout_mask(at::IntArrayRef sizes, double p, uint64_t key);
// x * keep / (1 - p) (the backward, and a forward again from the saved mask); x float32 or bf16.
at::Tensor dropout_apply(const at::Tensor& x, const at::Tensor& keep, double p);
// The same on n floats (out may not alias x), on the calling thread.
void dropout_apply(const float* x, const uint8_t* keep, float* out, int64_t n, double p);

// Philox4x32-10 of one counter (the scalar form; tests check the kernel against it).
std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

}  // namespace disttune
