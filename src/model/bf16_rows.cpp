#include "model/bf16_rows.h"

#include "common/cpu_isa.h"

namespace disttune {
namespace {

#ifdef DT_BF16_X86
__attribute__((target("avx512f"))) void to_float_avx512(const uint16_t* src, int64_t ld_src, int64_t rows,
                                                        int64_t cols, float* dst, int64_t ld_dst) {
  for (int64_t r = 0; r < rows; ++r, src += ld_src, dst += ld_dst) {
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) _mm512_storeu_ps(dst + c, simd::load_bf16(src + c));
    for (; c < cols; ++c) dst[c] = bf16_bits_to_float(src[c]);
  }
}

__attribute__((target("avx512f"))) void to_bf16_avx512(const float* src, int64_t ld_src, int64_t rows,
                                                       int64_t cols, uint16_t* dst, int64_t ld_dst) {
  for (int64_t r = 0; r < rows; ++r, src += ld_src, dst += ld_dst) {
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) simd::store_bf16(dst + c, _mm512_loadu_ps(src + c));
    for (; c < cols; ++c) dst[c] = float_to_bf16_bits(src[c]);
  }
}
#endif

// The portable form: dst[r, c] = convert(src[r, c]).
template <typename S, typename D, typename F>
void convert_rows(const S* src, int64_t ld_src, int64_t rows, int64_t cols, D* dst, int64_t ld_dst, F convert) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[r * ld_dst + c] = convert(src[r * ld_src + c]);
}

}  // namespace

bool bf16_avx512_available() {
#ifdef DT_BF16_X86
  static const bool has = cpu_isa_best() == CpuIsa::Avx512;
  return has;
#else
  return false;
#endif
}

void bf16_rows_to_float(const uint16_t* src, int64_t ld_src, int64_t rows, int64_t cols, float* dst,
                        int64_t ld_dst) {
#ifdef DT_BF16_X86
  if (bf16_avx512_available()) return to_float_avx512(src, ld_src, rows, cols, dst, ld_dst);
#endif
  convert_rows(src, ld_src, rows, cols, dst, ld_dst, bf16_bits_to_float);
}

void float_rows_to_bf16(const float* src, int64_t ld_src, int64_t rows, int64_t cols, uint16_t* dst,
                        int64_t ld_dst) {
#ifdef DT_BF16_X86
  if (bf16_avx512_available()) return to_bf16_avx512(src, ld_src, rows, cols, dst, ld_dst);
#endif
  convert_rows(src, ld_src, rows, cols, dst, ld_dst, float_to_bf16_bits);
}

}  // namespace disttune
