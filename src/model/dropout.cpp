#include "model/dropout.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/check.h"
#include "common/cpu_isa.h"
#include "model/cpu_tensor.h"

namespace disttune {
namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // Philox multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // key schedule (Weyl) increments
constexpr int kRounds = 10;
constexpr int kLanes = 16;              // counters per block
constexpr int64_t kBlock = 4 * kLanes;  // elements per block

// The keep threshold on a uniform 32-bit word: round((1 - p) 2^32), at most 2^32 - 1.
uint32_t keep_threshold(double p) {
  const double t = std::nearbyint((1.0 - p) * 4294967296.0);
  return t >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(t);
}

// Byte j of kSpread[m] is bit j of m: eight keep flags from a comparison's bit mask.
constexpr std::array<uint64_t, 256> make_spread() {
  std::array<uint64_t, 256> t{};
  for (int m = 0; m < 256; ++m)
    for (int j = 0; j < 8; ++j) t[m] |= static_cast<uint64_t>((m >> j) & 1) << (8 * j);
  return t;
}
constexpr std::array<uint64_t, 256> kSpread = make_spread();

struct DrawArgs {
  const float* x;
  float* out;
  uint8_t* keep;
  int64_t n;
  uint32_t k0, k1, threshold;
  float scale;
};

// Block b from the scalar Philox: the tail block, and CPUs without AVX2.
void draw_block_scalar(const DrawArgs& a, int64_t b) {
  for (int l = 0; l < kLanes; ++l) {
    const uint64_t c = static_cast<uint64_t>(b) * kLanes + static_cast<uint64_t>(l);
    const std::array<uint32_t, 4> w =
        philox4x32_10({static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0, 0}, {a.k0, a.k1});
    for (int j = 0; j < 4; ++j) {
      const int64_t i = b * kBlock + j * kLanes + l;
      if (i >= a.n) continue;
      const bool k = w[j] < a.threshold;
      a.keep[i] = k;
      if (a.out) a.out[i] = k ? a.x[i] * a.scale : 0.0f;
    }
  }
}

void draw_blocks_scalar(const DrawArgs& a, int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; ++b) draw_block_scalar(a, b);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define DT_DROPOUT_X86 1
// GCC 12 reports its own AVX-512 intrinsics' undefined pass-through operands as maybe
// uninitialised (masked out by design).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// The Philox round on vectors of 32-bit lanes: _mm*_mul_epu32 multiplies the even lanes
// (the low halves of 64-bit pairs) into 64-bit products, so the odd lanes go through a
// shift; blends put high and low words back in their lanes.
__attribute__((target("avx512f"))) inline void mulhilo512(__m512i c, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(c, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m);
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

__attribute__((target("avx2"))) inline void mulhilo256(__m256i c, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(c, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

__attribute__((target("avx512f"))) void draw_blocks_avx512(const DrawArgs& a, int64_t b0, int64_t b1) {
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kM0)), m1 = _mm512_set1_epi32(static_cast<int>(kM1));
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i threshold = _mm512_set1_epi32(static_cast<int>(a.threshold));
  const __m512 scale = _mm512_set1_ps(a.scale);
  for (int64_t b = b0; b < b1; ++b) {
    if ((b + 1) * kBlock > a.n) {
      draw_block_scalar(a, b);
      continue;
    }
    // Counters b * 16 + lane: the low word never carries (b * 16 is a multiple of 16).
    const uint64_t first = static_cast<uint64_t>(b) * kLanes;
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(first))), lane);
    __m512i c1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(first >> 32)));
    __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
    uint32_t k0 = a.k0, k1 = a.k1;
    for (int r = 0; r < kRounds; ++r) {
      __m512i hi0, lo0, hi1, lo1;
      mulhilo512(c0, m0, hi0, lo0);
      mulhilo512(c2, m1, hi1, lo1);
      c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(k0)));
      c1 = lo1;
      c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(k1)));
      c3 = lo0;
      k0 += kW0;
      k1 += kW1;
    }
    const __m512i words[4] = {c0, c1, c2, c3};
    for (int j = 0; j < 4; ++j) {
      const int64_t i = b * kBlock + j * kLanes;
      const __mmask16 k = _mm512_cmplt_epu32_mask(words[j], threshold);
      if (a.out) _mm512_storeu_ps(a.out + i, _mm512_maskz_mul_ps(k, _mm512_loadu_ps(a.x + i), scale));
      const uint64_t flags[2] = {kSpread[k & 0xFF], kSpread[k >> 8]};
      std::memcpy(a.keep + i, flags, 16);
    }
  }
}

__attribute__((target("avx2"))) void draw_blocks_avx2(const DrawArgs& a, int64_t b0, int64_t b1) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kM0)), m1 = _mm256_set1_epi32(static_cast<int>(kM1));
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  // Unsigned w < t as signed (w ^ sign) < (t ^ sign): AVX2 compares signed lanes only.
  const __m256i threshold = _mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(a.threshold)), sign);
  const __m256 scale = _mm256_set1_ps(a.scale);
  for (int64_t b = b0; b < b1; ++b) {
    if ((b + 1) * kBlock > a.n) {
      draw_block_scalar(a, b);
      continue;
    }
    const uint64_t first = static_cast<uint64_t>(b) * kLanes;
    for (int half = 0; half < 2; ++half) {  // lanes 0-7, then 8-15
      __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(first) + 8 * half)),
                                    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      __m256i c1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(first >> 32)));
      __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
      uint32_t k0 = a.k0, k1 = a.k1;
      for (int r = 0; r < kRounds; ++r) {
        __m256i hi0, lo0, hi1, lo1;
        mulhilo256(c0, m0, hi0, lo0);
        mulhilo256(c2, m1, hi1, lo1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
        c1 = lo1;
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
        c3 = lo0;
        k0 += kW0;
        k1 += kW1;
      }
      const __m256i words[4] = {c0, c1, c2, c3};
      for (int j = 0; j < 4; ++j) {
        const int64_t i = b * kBlock + j * kLanes + 8 * half;
        const __m256i k = _mm256_cmpgt_epi32(threshold, _mm256_xor_si256(words[j], sign));
        if (a.out) {
          const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(a.x + i), scale);
          _mm256_storeu_ps(a.out + i, _mm256_and_ps(y, _mm256_castsi256_ps(k)));
        }
        const uint64_t flags = kSpread[_mm256_movemask_ps(_mm256_castsi256_ps(k))];
        std::memcpy(a.keep + i, &flags, 8);
      }
    }
  }
}
#pragma GCC diagnostic pop
#endif

using DrawFn = void (*)(const DrawArgs&, int64_t, int64_t);

DrawFn draw_kernel(CpuIsa isa) {
  require_cpu_isa(isa, "dropout");
  switch (isa) {
#ifdef DT_DROPOUT_X86
    case CpuIsa::Avx512: return draw_blocks_avx512;
    case CpuIsa::Avx2: return draw_blocks_avx2;
#endif
    default: return draw_blocks_scalar;
  }
}

// out = x * keep * scale: the byte widened and converted in the vector loop. T: float, or
// c10::BFloat16 (widened to float, rounded back to nearest even as c10 rounds; GCC
// vectorises its conversions too).
template <typename T>
DT_CLONES_AVX512_AVX2 void apply_range(const T* __restrict x, const uint8_t* __restrict keep, T* __restrict out,
                                       int64_t i0, int64_t i1, float scale) {
  for (int64_t i = i0; i < i1; ++i) out[i] = T(static_cast<float>(x[i]) * (scale * static_cast<float>(keep[i])));
}

// float32 and bf16 CPU tensors take the Philox mask (bf16: training.precision bf16 on the CPU,
// where ATen's serial draw would cost as much as in float32).
bool fast_dropout_applies(const at::Tensor& x) {
  return cpu_strided(x, at::kFloat) || cpu_strided(x, at::kBFloat16);
}

float keep_scale(double p) { return static_cast<float>(1.0 / (1.0 - p)); }

void check_p(double p) { DT_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got ", p); }

// Elements per parallel task: large enough that a task's start costs nothing.
constexpr int64_t kGrain = 1 << 16;

struct CpuDropout : public torch::autograd::Function<CpuDropout> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double p) {
    DropoutDraw d;
    if (x.scalar_type() == at::kFloat) {
      d = dropout_draw(x, p, draw_dropout_key());
    } else {  // the same mask for the same key, applied in a second pass
      d.keep = dropout_mask(x.sizes(), p, draw_dropout_key());
      d.out = dropout_apply(x, d.keep, p);
    }
    ctx->save_for_backward({d.keep});
    ctx->saved_data["p"] = p;
    return d.out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor keep = ctx->get_saved_variables()[0];
    return {dropout_apply(grads[0], keep, ctx->saved_data["p"].toDouble()), at::Tensor()};
  }
};

}  // namespace

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  for (int r = 0; r < kRounds; ++r) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c[2];
    c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<uint32_t>(p1),
         static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<uint32_t>(p0)};
    k = {k[0] + kW0, k[1] + kW1};
  }
  return c;
}

uint64_t draw_dropout_key() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get<at::CPUGeneratorImpl>()->random64();
}

namespace {

DrawFn fastest_draw_kernel() {
  static const DrawFn fn = draw_kernel(cpu_isa_best());
  return fn;
}

// Draws the mask of n elements (and out = x * keep * scale where x is given) with `fn`.
void draw(const float* x, float* out, uint8_t* keep, int64_t n, double p, uint64_t key, DrawFn fn) {
  check_p(p);
  const DrawArgs args{
      x, out, keep, n, static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32), keep_threshold(p), keep_scale(p)};
  at::parallel_for(0, (n + kBlock - 1) / kBlock, kGrain / kBlock, [&](int64_t b0, int64_t b1) { fn(args, b0, b1); });
}

}  // namespace

DropoutDraw dropout_draw(const at::Tensor& x, double p, uint64_t key, CpuIsa isa) {
  DT_CHECK(cpu_strided(x, at::kFloat), "dropout_draw: float32 CPU tensors only");
  const at::Tensor xc = x.contiguous();
  DropoutDraw d{at::empty(x.sizes(), xc.options()), at::empty(x.sizes(), xc.options().dtype(at::kByte))};
  draw(xc.data_ptr<float>(), d.out.data_ptr<float>(), d.keep.data_ptr<uint8_t>(), xc.numel(), p, key,
       isa == cpu_isa_best() ? fastest_draw_kernel() : draw_kernel(isa));
  return d;
}

at::Tensor dropout_mask(at::IntArrayRef sizes, double p, uint64_t key) {
  at::Tensor keep = at::empty(sizes, at::TensorOptions().dtype(at::kByte));
  draw(nullptr, nullptr, keep.data_ptr<uint8_t>(), keep.numel(), p, key, fastest_draw_kernel());
  return keep;
}

at::Tensor dropout_apply(const at::Tensor& x, const at::Tensor& keep, double p) {
  check_p(p);
  DT_CHECK(fast_dropout_applies(x) && keep.scalar_type() == at::kByte && x.numel() == keep.numel(),
           "dropout_apply: a float32 or bf16 CPU tensor and a byte mask of as many elements");
  const at::Tensor xc = x.contiguous(), kc = keep.contiguous();
  at::Tensor out = at::empty(x.sizes(), xc.options());
  const uint8_t* kp = kc.data_ptr<uint8_t>();
  const float scale = keep_scale(p);
  auto run = [&](auto* xp, auto* op) {
    at::parallel_for(0, xc.numel(), kGrain, [&](int64_t i0, int64_t i1) { apply_range(xp, kp, op, i0, i1, scale); });
  };
  if (xc.scalar_type() == at::kBFloat16) {
    run(xc.data_ptr<c10::BFloat16>(), out.data_ptr<c10::BFloat16>());
  } else {
    run(xc.data_ptr<float>(), out.data_ptr<float>());
  }
  return out;
}

void dropout_apply(const float* x, const uint8_t* keep, float* out, int64_t n, double p) {
  apply_range(x, keep, out, 0, n, keep_scale(p));
}

at::Tensor dropout(const at::Tensor& x, double p) {
  check_p(p);
  if (p == 0) return x;
  if (!fast_dropout_applies(x) || x.numel() == 0) return at::dropout(x, p, /*train=*/true);
  return CpuDropout::apply(x, p);
}

}  // namespace disttune
