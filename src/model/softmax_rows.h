// Row-wise softmax and its backward on one attention head's [T, T] scores, for the CPU
// attention kernel (model/attention.cpp), which runs them between the head's products while
// the scores are still in the cache, instead of whole-tensor ATen passes over
// [B, heads, T, T] in memory. AVX-512 or AVX2 + FMA picked at run time (exp as a degree-6
// polynomial after range reduction, ~1 ulp, 0 below ln(FLT_MIN)), scalar std::exp otherwise.
// The arithmetic is ATen's: max, exp(x - max), sum, multiply by 1 / sum; the backward
// p * (dy - sum(dy * p)).
#pragma once

#include <cstdint>

#include "common/cpu_isa.h"

namespace disttune {

// x: `rows` rows of n floats (stride n), in place: x += row_bias (one row of n, the same for
// every row; may be null) + full_bias (rows x n; may be null), then softmax over each row.
// `isa`: which form of the kernel (tests run each the CPU has).
void bias_softmax_rows(float* x, int64_t rows, int64_t n, const float* row_bias, const float* full_bias,
                       CpuIsa isa = cpu_isa_best());

// dy := p * (dy - sum_row(dy * p)) for `rows` rows of n floats, in place.
void softmax_backward_rows(float* dy, const float* p, int64_t rows, int64_t n, CpuIsa isa = cpu_isa_best());

}  // namespace disttune
