// LayerNorm(y + x) over the last dimension: BERT's and MPNet's output blocks,
// `LayerNorm(dense(h) + input)`, the residual stream x float32 and y the block's product.
//
// Under CPU autocast (training.precision bf16) y is a bf16 product, and ATen runs the block
// as separate passes over [tokens, H]: y widened to float32, the sum, the LayerNorm, and the
// next product's cast of the result to bf16; in backward the bf16 gradient widened and added
// to the stream's, the LayerNorm's backward and y's gradient rounded to bf16. This kernel
// does each direction in one pass per row while the row sits in L1: 14 bytes of memory
// traffic per element forward where those passes move 32, 16 backward where they move 36.
// It also returns the result rounded to bf16, the copy autocast would make for the next
// product; that copy's gradient joins the result's inside the backward. A float32 y (no
// autocast) keeps ATen's ops: the sum goes into y's buffer in place, and a kernel writing a
// fresh one measured no faster in the step and held ~140 MB more at global batch 256.
//
// The arithmetic is ATen's: mean and biased variance per row in float32 (two passes over the
// cached row), (s - mean) / sqrt(var + eps) w + b; backward
// ds = rstd (dxh - mean(dxh) - xh mean(dxh xh)), dxh = g w, with dw = sum(g xh) and db = sum(g)
// over rows summed in float32 over 32 rows at a time, then in float64.
#pragma once

#include <ATen/core/Tensor.h>

namespace disttune {

// Float32 states and, under CPU autocast, the same values rounded to bf16 for the next product.
struct MixedStates {
  at::Tensor full;
  at::Tensor low;  // undefined when autocast is off (or ATen's ops ran)
  const at::Tensor& product_input() const { return low.defined() ? low : full; }
};

// Contiguous CPU tensors (y bf16; x, w, b float32) run the kernel; anything else (float32 y,
// CUDA) ATen's ops, with `low` undefined (the next product casts as before). y's buffer may
// take the sum.
MixedStates add_layer_norm(at::Tensor y, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps);

}  // namespace disttune
