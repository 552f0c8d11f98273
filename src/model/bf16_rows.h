// bf16 <-> float32 for disttune's CPU kernels that take bf16 tensors (training.precision bf16
// under CPU autocast): 16-lane AVX-512 loads and stores for kernels written with intrinsics
// (model/gelu), and strided row blocks for kernels that stage bf16 operands into float32
// scratch and run their float32 arithmetic there (model/attention). Rounding is c10's:
// nearest even, NaN to the quiet NaN 0x7FC0.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DT_BF16_X86 1

namespace disttune {
namespace simd {

// GCC 12 reports its own AVX-512 intrinsics' undefined pass-through operands as
// uninitialised (they are masked out or overwritten by design).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// A bf16 is the top half of a float: widening is a 16-bit shift.
__attribute__((target("avx512f"))) inline __m512 load_bf16(const uint16_t* p) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

__attribute__((target("avx512f"))) inline void store_bf16(uint16_t* p, __m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(r));
}

#pragma GCC diagnostic pop

}  // namespace simd
}  // namespace disttune
#endif  // x86-64

namespace disttune {

// c10's conversions without its NaN branch (a select instead), so that loops of them
// vectorise: the float whose top half is `bits`; f rounded to nearest even, NaN to 0x7FC0.
inline float bf16_bits_to_float(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint16_t rounded = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
  return f != f ? static_cast<uint16_t>(0x7FC0) : rounded;
}

// Whether the simd:: conversions above run here (an x86-64 build on a CPU with AVX-512F):
// the kernels built on them (these conversions, model/gelu) take that path only then.
bool bf16_avx512_available();

// `rows` rows of `cols` values, row i at src + i ld_src, into dst + i ld_dst.
void bf16_rows_to_float(const uint16_t* src, int64_t ld_src, int64_t rows, int64_t cols, float* dst,
                        int64_t ld_dst);
void float_rows_to_bf16(const float* src, int64_t ld_src, int64_t rows, int64_t cols, uint16_t* dst,
                        int64_t ld_dst);

}  // namespace disttune
