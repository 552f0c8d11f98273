#include "model/softmax_rows.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/check.h"
#include "common/cpu_isa.h"
#include "model/simd_exp.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DT_SOFTMAX_X86 1
#endif

namespace disttune {
namespace {

void bias_rows_scalar(float* x, int64_t rows, int64_t n, const float* rb, const float* fb) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < n; ++c) {
      float v = row[c];
      if (rb) v += rb[c];
      if (fb) v += fb[r * n + c];
      row[c] = v;
      mx = std::max(mx, v);
    }
    float sum = 0;
    for (int64_t c = 0; c < n; ++c) sum += row[c] = std::exp(row[c] - mx);
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < n; ++c) row[c] *= inv;
  }
}

void backward_rows_scalar(float* dy, const float* p, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    float* g = dy + r * n;
    const float* pr = p + r * n;
    float dot = 0;
    for (int64_t c = 0; c < n; ++c) dot += g[c] * pr[c];
    for (int64_t c = 0; c < n; ++c) g[c] = pr[c] * (g[c] - dot);
  }
}

#ifdef DT_SOFTMAX_X86
// GCC 12 reports its own AVX-512 intrinsics' undefined pass-through operands as maybe
// uninitialised (masked out by design).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

using simd::exp256;
using simd::exp512;

// Lanes [c, c + 16) of a row of n: all of them, or the tail's.
__attribute__((target("avx512f"))) inline __mmask16 lanes512(int64_t c, int64_t n) {
  return n - c >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - c)) - 1);
}

__attribute__((target("avx512f"))) void bias_rows_avx512(float* x, int64_t rows, int64_t n, const float* rb,
                                                         const float* fb) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    const float* frow = fb ? fb + r * n : nullptr;
    __m512 mx = neg_inf;
    for (int64_t c = 0; c < n; c += 16) {
      const __mmask16 m = lanes512(c, n);
      __m512 v = _mm512_maskz_loadu_ps(m, row + c);
      if (rb) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, rb + c));
      if (frow) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, frow + c));
      _mm512_mask_storeu_ps(row + c, m, v);
      mx = _mm512_mask_max_ps(mx, m, mx, v);
    }
    const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t c = 0; c < n; c += 16) {
      const __mmask16 m = lanes512(c, n);
      const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + c), vmax));
      _mm512_mask_storeu_ps(row + c, m, e);
      sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int64_t c = 0; c < n; c += 16) {
      const __mmask16 m = lanes512(c, n);
      _mm512_mask_storeu_ps(row + c, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + c), inv));
    }
  }
}

__attribute__((target("avx512f"))) void backward_rows_avx512(float* dy, const float* p, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    float* g = dy + r * n;
    const float* pr = p + r * n;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c < n; c += 16) {
      const __mmask16 m = lanes512(c, n);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, g + c), _mm512_maskz_loadu_ps(m, pr + c), acc);
    }
    const __m512 dot = _mm512_set1_ps(_mm512_reduce_add_ps(acc));
    for (int64_t c = 0; c < n; c += 16) {
      const __mmask16 m = lanes512(c, n);
      const __m512 v = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, g + c), dot);
      _mm512_mask_storeu_ps(g + c, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, pr + c), v));
    }
  }
}

__attribute__((target("avx2,fma"))) inline float hmax256(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

__attribute__((target("avx2,fma"))) inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The AVX2 kernels run whole 8-float groups in vectors and the row's last n mod 8 in scalar
// code (the same operations, exp from the scalar library).
__attribute__((target("avx2,fma"))) void bias_rows_avx2(float* x, int64_t rows, int64_t n, const float* rb,
                                                        const float* fb) {
  const int64_t whole = n - n % 8;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    const float* frow = fb ? fb + r * n : nullptr;
    __m256 mx = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t c = 0; c < whole; c += 8) {
      __m256 v = _mm256_loadu_ps(row + c);
      if (rb) v = _mm256_add_ps(v, _mm256_loadu_ps(rb + c));
      if (frow) v = _mm256_add_ps(v, _mm256_loadu_ps(frow + c));
      _mm256_storeu_ps(row + c, v);
      mx = _mm256_max_ps(mx, v);
    }
    float smax = hmax256(mx);
    for (int64_t c = whole; c < n; ++c) {
      float v = row[c];
      if (rb) v += rb[c];
      if (frow) v += frow[c];
      row[c] = v;
      smax = std::max(smax, v);
    }
    const __m256 vmax = _mm256_set1_ps(smax);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t c = 0; c < whole; c += 8) {
      const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(row + c), vmax));
      _mm256_storeu_ps(row + c, e);
      sum = _mm256_add_ps(sum, e);
    }
    float ssum = hsum256(sum);
    for (int64_t c = whole; c < n; ++c) ssum += row[c] = std::exp(row[c] - smax);
    const float inv = 1.0f / ssum;
    const __m256 vinv = _mm256_set1_ps(inv);
    for (int64_t c = 0; c < whole; c += 8) _mm256_storeu_ps(row + c, _mm256_mul_ps(_mm256_loadu_ps(row + c), vinv));
    for (int64_t c = whole; c < n; ++c) row[c] *= inv;
  }
}

__attribute__((target("avx2,fma"))) void backward_rows_avx2(float* dy, const float* p, int64_t rows, int64_t n) {
  const int64_t whole = n - n % 8;
  for (int64_t r = 0; r < rows; ++r) {
    float* g = dy + r * n;
    const float* pr = p + r * n;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t c = 0; c < whole; c += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(g + c), _mm256_loadu_ps(pr + c), acc);
    float sdot = hsum256(acc);
    for (int64_t c = whole; c < n; ++c) sdot += g[c] * pr[c];
    const __m256 dot = _mm256_set1_ps(sdot);
    for (int64_t c = 0; c < whole; c += 8)
      _mm256_storeu_ps(g + c, _mm256_mul_ps(_mm256_loadu_ps(pr + c), _mm256_sub_ps(_mm256_loadu_ps(g + c), dot)));
    for (int64_t c = whole; c < n; ++c) g[c] = pr[c] * (g[c] - sdot);
  }
}

#pragma GCC diagnostic pop
#endif  // DT_SOFTMAX_X86

struct RowKernels {
  void (*forward)(float*, int64_t, int64_t, const float*, const float*);
  void (*backward)(float*, const float*, int64_t, int64_t);
};

RowKernels row_kernels(CpuIsa isa) {
  require_cpu_isa(isa, "softmax rows");
  switch (isa) {
#ifdef DT_SOFTMAX_X86
    case CpuIsa::Avx512: return {bias_rows_avx512, backward_rows_avx512};
    case CpuIsa::Avx2: return {bias_rows_avx2, backward_rows_avx2};
#endif
    default: return {bias_rows_scalar, backward_rows_scalar};
  }
}

RowKernels pick_row_kernels(CpuIsa isa) {
  static const RowKernels fastest = row_kernels(cpu_isa_best());
  return isa == cpu_isa_best() ? fastest : row_kernels(isa);
}

}  // namespace

void bias_softmax_rows(float* x, int64_t rows, int64_t n, const float* row_bias, const float* full_bias,
                       CpuIsa isa) {
  pick_row_kernels(isa).forward(x, rows, n, row_bias, full_bias);
}

void softmax_backward_rows(float* dy, const float* p, int64_t rows, int64_t n, CpuIsa isa) {
  pick_row_kernels(isa).backward(dy, p, rows, n);
}

}  // namespace disttune
