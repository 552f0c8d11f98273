#include "model/gelu.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "model/bf16_rows.h"
#include "model/cpu_tensor.h"
#include "model/simd_exp.h"

namespace disttune {
namespace {

#ifdef DT_BF16_X86
// GCC 12 reports its own AVX-512 intrinsics' undefined pass-through operands as
// uninitialised (they are masked out or overwritten by design).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Abramowitz & Stegun 7.1.26, the constants of ATen's Vectorized<float>::erf.
constexpr float kP = 0.3275911f, kA1 = 0.254829592f, kA2 = -0.284496736f, kA3 = 1.421413741f,
                kA4 = -1.453152027f, kA5 = 1.061405429f;
constexpr float kSqrtHalf = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;

// Phi(x) and exp(-x^2 / 2) of 16 lanes.
__attribute__((target("avx512f"))) inline void normal_cdf(__m512 x, __m512& cdf, __m512& gauss) {
  const __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(kSqrtHalf));
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(z, _mm512_set1_ps(kP), _mm512_set1_ps(1.0f)));
  __m512 poly = _mm512_fmadd_ps(_mm512_set1_ps(kA5), t, _mm512_set1_ps(kA4));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kA3));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kA2));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kA1));
  gauss = simd::exp512(_mm512_mul_ps(_mm512_mul_ps(z, z), _mm512_set1_ps(-1.0f)));
  const __m512 half_erfc = _mm512_mul_ps(_mm512_mul_ps(poly, t), _mm512_mul_ps(gauss, _mm512_set1_ps(0.5f)));
  // x >= 0: 1 - erfc / 2; x < 0 (and NaN, which stays NaN): erfc / 2.
  const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
  cdf = _mm512_mask_sub_ps(half_erfc, pos, _mm512_set1_ps(1.0f), half_erfc);
}

__attribute__((target("avx512f"))) inline void forward16(const uint16_t* x, uint16_t* y) {
  const __m512 v = simd::load_bf16(x);
  __m512 cdf, gauss;
  normal_cdf(v, cdf, gauss);
  simd::store_bf16(y, _mm512_mul_ps(v, cdf));
}

__attribute__((target("avx512f"))) inline void backward16(const uint16_t* dy, const uint16_t* x, uint16_t* dx) {
  const __m512 v = simd::load_bf16(x);
  __m512 cdf, gauss;
  normal_cdf(v, cdf, gauss);
  const __m512 slope = _mm512_fmadd_ps(_mm512_mul_ps(v, gauss), _mm512_set1_ps(kInvSqrt2Pi), cdf);
  simd::store_bf16(dx, _mm512_mul_ps(simd::load_bf16(dy), slope));
}

// Elements [begin, end), the loop inside the AVX-512 function so that the 16-lane groups
// inline into it (a call per group costs as much as the arithmetic); the tail goes through
// zero-padded copies.
__attribute__((target("avx512f"))) void forward_range(const uint16_t* x, uint16_t* y, int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) forward16(x + i, y + i);
  if (i == end) return;
  uint16_t in[16] = {}, out[16];
  std::memcpy(in, x + i, (end - i) * sizeof(uint16_t));
  forward16(in, out);
  std::memcpy(y + i, out, (end - i) * sizeof(uint16_t));
}

__attribute__((target("avx512f"))) void backward_range(const uint16_t* dy, const uint16_t* x, uint16_t* dx,
                                                       int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) backward16(dy + i, x + i, dx + i);
  if (i == end) return;
  uint16_t in_dy[16] = {}, in_x[16] = {}, out[16];
  std::memcpy(in_dy, dy + i, (end - i) * sizeof(uint16_t));
  std::memcpy(in_x, x + i, (end - i) * sizeof(uint16_t));
  backward16(in_dy, in_x, out);
  std::memcpy(dx + i, out, (end - i) * sizeof(uint16_t));
}

// Chunks of 2^15 elements (a multiple of 16) per task.
constexpr int64_t kGrain = 1 << 15;

void forward_kernel(const uint16_t* x, uint16_t* y, int64_t n) {
  at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { forward_range(x, y, b, e); });
}

void backward_kernel(const uint16_t* dy, const uint16_t* x, uint16_t* dx, int64_t n) {
  at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { backward_range(dy, x, dx, b, e); });
}
#pragma GCC diagnostic pop

bool kernel_applies(const at::Tensor& x) {
  return gelu_bf16_kernel_available() && cpu_strided(x, at::kBFloat16) && x.is_contiguous();
}

struct GeluBf16 : public torch::autograd::Function<GeluBf16> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    at::Tensor y = at::empty_like(x);
    forward_kernel(bf16_bits(x), bf16_bits(y), x.numel());
    ctx->save_for_backward({x});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor x = ctx->get_saved_variables()[0];
    const at::Tensor g = grads[0].to(at::kBFloat16).contiguous();
    at::Tensor dx = at::empty_like(x);
    backward_kernel(bf16_bits(g), bf16_bits(x), bf16_bits(dx), x.numel());
    return {dx};
  }
};
#endif  // DT_BF16_X86

}  // namespace

bool gelu_bf16_kernel_available() { return bf16_avx512_available(); }

at::Tensor gelu_erf(at::Tensor x) {
  const bool in_place = !x.requires_grad();
#ifdef DT_BF16_X86
  if (kernel_applies(x)) {
    if (!in_place) return GeluBf16::apply(x);
    forward_kernel(bf16_bits(x), bf16_bits(x), x.numel());
    return x;
  }
#endif
  return in_place ? at::gelu_(x) : at::gelu(x);
}

}  // namespace disttune
