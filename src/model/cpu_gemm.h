// oneDNN's sgemm for the encoder's float32 CPU products (model/linear.h, model/attention.h).
// oneDNN generates its kernels for the CPU it finds, where OpenBLAS (behind at::linear and
// at::matmul) follows OPENBLAS_CORETYPE and its own CPU table: on the development machine
// (Zen 5) one core runs the encoder's shapes at 172-210 GFLOP/s on oneDNN, 179-194 on
// OpenBLAS's AVX-512 kernels and 99-104 on the AVX2 kernels that machine's environment pins
// (docs/model.md). Present when disttune is built with libdnnl-dev (DISTTUNE_HAVE_DNNL);
// DISTTUNE_ONEDNN=0 in the environment turns it off (an A/B switch).
#pragma once

#include <cstdint>

namespace disttune {

// Whether cpu_sgemm may be called: built with oneDNN and not turned off.
bool cpu_gemm_enabled();

// "oneDNN sgemm", or the reason it is not used, for logs and benchmark records.
const char* cpu_gemm_name();

// C = alpha op(A) op(B) + beta C over row-major matrices with leading dimensions (so one head
// of a [B, T, 3H] buffer is an operand in place); op(X) = X^T when trans_x. C is M x N, the
// inner dimension K. Inside a parallel region it runs on the calling thread alone, otherwise
// on the caller's OpenMP team (at::set_num_threads sizes it). Only when cpu_gemm_enabled().
void cpu_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace disttune
