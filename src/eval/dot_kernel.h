// Query-document scores with a summation order fixed by definition, so that a score never
// depends on which rank, chunk or position a document is scored in, nor on the thread count
// or the CPU's vector width:
//
//   score(q, d) = acc after  acc = 0;  for k in 0..D-1: acc = fmaf(q[k], d[k], acc)
//
// A BLAS GEMM does not promise this: its K blocking, small-matrix and GEMV paths, edge
// micro-kernels and thread partitioning may all depend on the matrix shapes, which differ
// from rank to rank. Here every score is one sequential chain of fused multiply-adds;
// the SIMD kernels only compute many such chains side by side (one per vector lane), and a
// fused multiply-add is exactly rounded whatever the vector width, so every kernel gives
// the same bits as the scalar definition (reference_dot).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/cpu_isa.h"

namespace disttune {

// The definition of a score (see above).
float reference_dot(const float* q, const float* d, int64_t dim);

// Scores all queries (packed once) against chunks of documents.
class DotScorer {
 public:
  // queries: [Q, D] float32 on the CPU.
  explicit DotScorer(const at::Tensor& queries, CpuIsa isa = cpu_isa_best());

  int64_t num_queries() const { return q_; }
  int64_t dim() const { return d_; }
  CpuIsa isa() const { return isa_; }

  // out[i * n + j] = score(query i, docs[j]) for docs: [n, D] float32, contiguous, on the
  // CPU; out holds Q * n floats. Parallel over documents and queries (at::parallel_for);
  // the SIMD kernels pack the documents first (n x D floats of scratch).
  void score(const at::Tensor& docs, float* out) const;
  at::Tensor score(const at::Tensor& docs) const;  // [Q, n]

 private:
  CpuIsa isa_;
  int64_t q_ = 0, d_ = 0;
  int mr_ = 1, nr_ = 1;       // micro-tile: mr queries x nr documents
  at::Tensor queries_;        // Generic: the queries as given (contiguous)
  std::vector<float> packed_;  // SIMD: queries in panels of mr rows, [panel][k][mr]
};

}  // namespace disttune
