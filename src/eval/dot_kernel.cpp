#include "eval/dot_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "common/check.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define DT_DOT_X86 1
#endif

namespace disttune {
namespace {

// A parallel task scores a group of document panels against a group of query panels: the
// document panels (8 x 32 docs x D) are reused from L1/L2 across the query panels, the
// query panels (16 x 8 queries x D) from L2 across the document panels, and a block of a
// few thousand documents still splits into enough tasks for many threads.
constexpr int64_t kDocPanelsPerTask = 8;
constexpr int64_t kQueryPanelsPerTask = 16;
// Generic kernel: documents per task.
constexpr int64_t kGenericDocsPerTask = 64;

// Generic kernel: every score straight from the definition.
void score_generic(const float* q, int64_t nq, const float* docs, int64_t n, int64_t dim,
                   float* out, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j)
    for (int64_t i = 0; i < nq; ++i) out[i * n + j] = reference_dot(q + i * dim, docs + j * dim, dim);
}

// Packs rows [r0, r0 + width) of x ([rows, dim], row-major) as [k][width], zero where
// r >= rows: the layout a micro-kernel streams through.
void pack_kmajor(const float* x, int64_t rows, int64_t dim, int64_t r0, int width, float* out) {
  const int valid = static_cast<int>(std::min<int64_t>(width, rows - r0));
  for (int r = 0; r < width; ++r) {
    if (r < valid) {
      const float* src = x + (r0 + r) * dim;
      for (int64_t k = 0; k < dim; ++k) out[k * width + r] = src[k];
    } else {
      for (int64_t k = 0; k < dim; ++k) out[k * width + r] = 0.f;
    }
  }
}

#ifdef DT_DOT_X86

// The micro-kernels compute an MR x NR tile of scores, one FMA chain per (query, doc) in
// a vector lane: acc[i] = fma(broadcast(q_i[k]), docs[k][lanes], acc[i]) for k = 0..D-1.
// a: MR queries as [k][MR]; b: NR documents as [k][NR]. Only the first m rows and n
// columns of the tile are stored (the others are zero padding).

constexpr int kMr512 = 8, kNr512 = 32;

__attribute__((target("avx512f"))) void tile_avx512(const float* a, const float* b, int64_t dim,
                                                    float* c, int64_t ldc, int m, int n) {
  __m512 acc[kMr512][2];
#pragma GCC unroll 16
  for (int i = 0; i < kMr512; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < dim; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b + k * kNr512);
    const __m512 b1 = _mm512_loadu_ps(b + k * kNr512 + 16);
#pragma GCC unroll 16
    for (int i = 0; i < kMr512; ++i) {
      const __m512 av = _mm512_set1_ps(a[k * kMr512 + i]);
      acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
  }
  const __mmask16 m0 = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(n >= 32 ? 0xFFFF : n <= 16 ? 0 : (1u << (n - 16)) - 1);
#pragma GCC unroll 16
  for (int i = 0; i < kMr512; ++i) {
    if (i >= m) break;
    _mm512_mask_storeu_ps(c + i * ldc, m0, acc[i][0]);
    _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc[i][1]);
  }
}

constexpr int kMr256 = 6, kNr256 = 16;

__attribute__((target("avx2,fma"))) void tile_avx2(const float* a, const float* b, int64_t dim,
                                                   float* c, int64_t ldc, int m, int n) {
  __m256 acc[kMr256][2];
#pragma GCC unroll 16
  for (int i = 0; i < kMr256; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < dim; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b + k * kNr256);
    const __m256 b1 = _mm256_loadu_ps(b + k * kNr256 + 8);
#pragma GCC unroll 16
    for (int i = 0; i < kMr256; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + k * kMr256 + i);
      acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
    }
  }
  if (m == kMr256 && n == kNr256) {
#pragma GCC unroll 16
    for (int i = 0; i < kMr256; ++i) {
      _mm256_storeu_ps(c + i * ldc, acc[i][0]);
      _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
    }
    return;
  }
  alignas(32) float tmp[kMr256][kNr256];
#pragma GCC unroll 16
  for (int i = 0; i < kMr256; ++i) {
    _mm256_store_ps(tmp[i], acc[i][0]);
    _mm256_store_ps(tmp[i] + 8, acc[i][1]);
  }
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) c[i * ldc + j] = tmp[i][j];
}

#endif  // DT_DOT_X86

using TileFn = void (*)(const float*, const float*, int64_t, float*, int64_t, int, int);

// All queries against n documents: the documents are packed into nr-wide panels once
// (in parallel), then a 2-D grid of tasks runs the micro-kernel over (document panel group
// x query panel group).
void score_tiled(TileFn tile, int mr, int nr, const float* packed_q, int64_t nq,
                 const float* docs, int64_t n, int64_t dim, float* out) {
  const int64_t doc_panels = (n + nr - 1) / nr, query_panels = (nq + mr - 1) / mr;
  std::vector<float> packed(static_cast<size_t>(doc_panels * nr * dim));
  at::parallel_for(0, doc_panels, 4, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) pack_kmajor(docs, n, dim, p * nr, nr, packed.data() + p * nr * dim);
  });
  const int64_t doc_groups = (doc_panels + kDocPanelsPerTask - 1) / kDocPanelsPerTask;
  const int64_t query_groups = (query_panels + kQueryPanelsPerTask - 1) / kQueryPanelsPerTask;
  at::parallel_for(0, doc_groups * query_groups, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t dg = t / query_groups, qg = t % query_groups;
      const int64_t dp1 = std::min(doc_panels, (dg + 1) * kDocPanelsPerTask);
      const int64_t qp1 = std::min(query_panels, (qg + 1) * kQueryPanelsPerTask);
      for (int64_t dp = dg * kDocPanelsPerTask; dp < dp1; ++dp) {
        const int64_t j = dp * nr;
        const int nv = static_cast<int>(std::min<int64_t>(nr, n - j));
        for (int64_t qp = qg * kQueryPanelsPerTask; qp < qp1; ++qp) {
          const int64_t i = qp * mr;
          const int mv = static_cast<int>(std::min<int64_t>(mr, nq - i));
          tile(packed_q + i * dim, packed.data() + dp * nr * dim, dim, out + i * n + j, n, mv, nv);
        }
      }
    }
  });
}

}  // namespace

float reference_dot(const float* q, const float* d, int64_t dim) {
  float acc = 0.f;
  for (int64_t k = 0; k < dim; ++k) acc = std::fma(q[k], d[k], acc);
  return acc;
}

DotScorer::DotScorer(const at::Tensor& queries, CpuIsa isa) : isa_(isa) {
  DT_CHECK(queries.dim() == 2, "DotScorer: queries must be [Q, D], got ", queries.sizes());
  require_cpu_isa(isa, "DotScorer");
  queries_ = queries.to(at::kCPU, at::kFloat).contiguous();
  q_ = queries_.size(0);
  d_ = queries_.size(1);
#ifdef DT_DOT_X86
  if (isa_ == CpuIsa::Avx512) mr_ = kMr512, nr_ = kNr512;
  if (isa_ == CpuIsa::Avx2) mr_ = kMr256, nr_ = kNr256;
#endif
  if (isa_ != CpuIsa::Generic) {
    const int64_t panels = (q_ + mr_ - 1) / mr_;
    packed_.resize(static_cast<size_t>(panels * mr_ * d_));
    for (int64_t p = 0; p < panels; ++p)
      pack_kmajor(queries_.data_ptr<float>(), q_, d_, p * mr_, mr_, packed_.data() + p * mr_ * d_);
    queries_ = at::Tensor();  // the packed copy is all the SIMD kernels read
  }
}

void DotScorer::score(const at::Tensor& docs, float* out) const {
  DT_CHECK(docs.dim() == 2 && docs.size(1) == d_ && docs.scalar_type() == at::kFloat &&
               docs.device().is_cpu() && docs.is_contiguous(),
           "DotScorer::score: documents must be contiguous float32 [n, ", d_, "] on the CPU, got ",
           docs.sizes(), " ", docs.scalar_type());
  const int64_t n = docs.size(0);
  if (n == 0 || q_ == 0) return;
  const float* dp = docs.data_ptr<float>();
  switch (isa_) {
    case CpuIsa::Generic:
      at::parallel_for(0, n, kGenericDocsPerTask, [&](int64_t j0, int64_t j1) {
        score_generic(queries_.data_ptr<float>(), q_, dp, n, d_, out, j0, j1);
      });
      return;
#ifdef DT_DOT_X86
    case CpuIsa::Avx512:
      score_tiled(tile_avx512, mr_, nr_, packed_.data(), q_, dp, n, d_, out);
      return;
    case CpuIsa::Avx2:
      score_tiled(tile_avx2, mr_, nr_, packed_.data(), q_, dp, n, d_, out);
      return;
#endif
    default:
      DT_CHECK(false, "DotScorer: no kernel for ", cpu_isa_name(isa_));
  }
}

at::Tensor DotScorer::score(const at::Tensor& docs) const {
  at::Tensor out = at::empty({q_, docs.size(0)}, at::kFloat);
  score(docs, out.data_ptr<float>());
  return out;
}

}  // namespace disttune
