#include "model/add_layer_norm.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/cpu_isa.h"
#include "model/autocast.h"
#include "model/bf16_rows.h"
#include "model/cpu_tensor.h"

namespace disttune {
namespace {

// Rows per parallel task: a task's start costs nothing beside 64 rows of work.
constexpr int64_t kRowGrain = 64;

// Rows [r0, r1): s = y (bf16) + x, out = (s - mean) rstd w + b, low = bf16(out) when asked.
DT_CLONES_AVX512_AVX2 void forward_rows(const uint16_t* __restrict y, const float* __restrict x,
                                        const float* __restrict w, const float* __restrict b, int64_t H, float eps,
                                        int64_t r0, int64_t r1, float* __restrict s, float* __restrict out,
                                        uint16_t* __restrict low, float* __restrict mean, float* __restrict rstd) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint16_t* yr = y + r * H;
    const float* xr = x + r * H;
    float* sr = s + r * H;
    float* orow = out + r * H;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < H; ++j) {
      const float v = bf16_bits_to_float(yr[j]) + xr[j];
      sr[j] = v;
      sum += v;
    }
    const float m = sum / static_cast<float>(H);
    float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
    for (int64_t j = 0; j < H; ++j) {
      const float d = sr[j] - m;
      sq += d * d;
    }
    const float rs = 1.0f / std::sqrt(sq / static_cast<float>(H) + eps);
    mean[r] = m;
    rstd[r] = rs;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) orow[j] = (sr[j] - m) * rs * w[j] + b[j];
    if (low) {
      uint16_t* lr = low + r * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) lr[j] = float_to_bf16_bits(orow[j]);
    }
  }
}

// Rows of the backward's column sums kept in float32 before they join the float64 ones.
constexpr int64_t kSumRows = 32;

// Rows [r0, r1) of the backward: g = g_out (+ widened g_low), either possibly absent;
// ds into ds (float32) and, when asked, rounded into ds_low (y's bf16 gradient); g xh and g
// summed per column over kSumRows rows in float32, then into the caller's float64 sums dw
// and db. `scratch`: 4 H floats.
DT_CLONES_AVX512_AVX2 void backward_rows(const float* __restrict g_out, const uint16_t* __restrict g_low,
                                         const float* __restrict s, const float* __restrict mean,
                                         const float* __restrict rstd, const float* __restrict w, int64_t H, int64_t r0,
                                         int64_t r1, float* __restrict ds, uint16_t* __restrict ds_low,
                                         double* __restrict dw, double* __restrict db, float* __restrict scratch) {
  float* g = scratch;
  float* xh = scratch + H;
  float* sw = scratch + 2 * H;
  float* sb = scratch + 3 * H;
  std::fill(sw, sw + 2 * H, 0.0f);
  const float inv_h = 1.0f / static_cast<float>(H);
  for (int64_t r = r0; r < r1; ++r) {
    const float m = mean[r], rs = rstd[r];
    const float* sr = s + r * H;
    if (g_out && g_low) {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) g[j] = g_out[r * H + j] + bf16_bits_to_float(g_low[r * H + j]);
    } else if (g_out) {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) g[j] = g_out[r * H + j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) g[j] = bf16_bits_to_float(g_low[r * H + j]);
    }
    float a = 0.0f, c = 0.0f;
#pragma omp simd reduction(+ : a, c)
    for (int64_t j = 0; j < H; ++j) {
      const float h = (sr[j] - m) * rs;
      const float d = g[j] * w[j];
      xh[j] = h;
      a += d;
      c += d * h;
    }
    a *= inv_h;
    c *= inv_h;
    float* dr = ds + r * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) dr[j] = rs * (g[j] * w[j] - a - xh[j] * c);
    if (ds_low) {
      uint16_t* lr = ds_low + r * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) lr[j] = float_to_bf16_bits(dr[j]);
    }
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      sw[j] += g[j] * xh[j];
      sb[j] += g[j];
    }
    if ((r - r0) % kSumRows == kSumRows - 1 || r == r1 - 1) {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        dw[j] += static_cast<double>(sw[j]);
        db[j] += static_cast<double>(sb[j]);
        sw[j] = 0.0f;
        sb[j] = 0.0f;
      }
    }
  }
}

struct AddLayerNormFn : public torch::autograd::Function<AddLayerNormFn> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& y,
                                                const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                                double eps, bool with_low) {
    const int64_t H = x.size(-1), N = x.numel() / H;
    at::Tensor s = at::empty_like(x), out = at::empty_like(x);
    at::Tensor low = with_low ? at::empty(x.sizes(), x.options().dtype(at::kBFloat16)) : at::Tensor();
    at::Tensor mean = at::empty({N}, x.options()), rstd = at::empty({N}, x.options());
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>(), *bp = b.data_ptr<float>();
    float *sp = s.data_ptr<float>(), *op = out.data_ptr<float>();
    uint16_t* lp = with_low ? bf16_bits(low) : nullptr;
    float *mp = mean.data_ptr<float>(), *rp = rstd.data_ptr<float>();
    const float e = static_cast<float>(eps);
    const uint16_t* yp = bf16_bits(y);
    at::parallel_for(0, N, kRowGrain, [&](int64_t r0, int64_t r1) {
      forward_rows(yp, xp, wp, bp, H, e, r0, r1, sp, op, lp, mp, rp);
    });
    ctx->set_materialize_grads(false);  // an unused `low` (the last layer's) sends no gradient
    ctx->save_for_backward({s, w, mean, rstd});
    if (with_low) return {out, low};
    return {out};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &s = saved[0], &w = saved[1], &mean = saved[2], &rstd = saved[3];
    const at::Tensor g_out = grads[0].defined() ? grads[0].to(at::kFloat).contiguous() : at::Tensor();
    const at::Tensor g_low =
        grads.size() > 1 && grads[1].defined() ? grads[1].to(at::kBFloat16).contiguous() : at::Tensor();
    if (!g_out.defined() && !g_low.defined()) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), {}, {}};
    const int64_t H = s.size(-1), N = s.numel() / H;
    at::Tensor ds = at::empty_like(s);
    at::Tensor ds_low =
        ctx->needs_input_grad(0) ? at::empty(s.sizes(), s.options().dtype(at::kBFloat16)) : at::Tensor();
    const int threads = at::get_num_threads();
    std::vector<double> sums(static_cast<size_t>(threads) * 2 * H, 0.0);
    at::parallel_for(0, N, kRowGrain, [&](int64_t r0, int64_t r1) {
      std::vector<float> scratch(static_cast<size_t>(4 * H));
      double* dw = sums.data() + static_cast<size_t>(at::get_thread_num()) * 2 * H;
      backward_rows(g_out.defined() ? g_out.data_ptr<float>() : nullptr,
                    g_low.defined() ? bf16_bits(g_low) : nullptr, s.data_ptr<float>(), mean.data_ptr<float>(),
                    rstd.data_ptr<float>(), w.data_ptr<float>(), H, r0, r1, ds.data_ptr<float>(),
                    ds_low.defined() ? bf16_bits(ds_low) : nullptr, dw, dw + H, scratch.data());
    });
    at::Tensor dw = at::empty({H}, s.options()), db = at::empty({H}, s.options());
    float *dwp = dw.data_ptr<float>(), *dbp = db.data_ptr<float>();
    for (int64_t j = 0; j < H; ++j) {
      double a = 0.0, c = 0.0;
      for (int t = 0; t < threads; ++t) {
        a += sums[static_cast<size_t>(t) * 2 * H + j];
        c += sums[static_cast<size_t>(t) * 2 * H + H + j];
      }
      dwp[j] = static_cast<float>(a);
      dbp[j] = static_cast<float>(c);
    }
    // y's gradient is the stream's rounded to bf16, as the add's backward and its cast would
    // give it.
    return {ds_low, ds, dw, db, at::Tensor(), at::Tensor()};
  }
};

bool kernel_applies(const at::Tensor& y, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const int64_t H = x.dim() > 0 ? x.size(-1) : 0;
  return H > 0 && cpu_strided(x, at::kFloat) && cpu_strided(y, at::kBFloat16) &&
         y.sizes() == x.sizes() && x.is_contiguous() && y.is_contiguous() && w.defined() && b.defined() &&
         cpu_strided(w, at::kFloat) && cpu_strided(b, at::kFloat) && w.dim() == 1 && b.dim() == 1 &&
         w.size(0) == H && b.size(0) == H && w.is_contiguous() && b.is_contiguous();
}

}  // namespace

MixedStates add_layer_norm(at::Tensor y, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps) {
  if (!kernel_applies(y, x, w, b)) {
    // In place when both have one dtype (a product's backward needs its inputs, not its
    // output); otherwise the sum is promoted to float32, as Hugging Face computes it.
    const at::Tensor sum = y.scalar_type() == x.scalar_type() ? y.add_(x) : y + x;
    return {at::layer_norm(sum, {x.size(-1)}, w, b, eps), at::Tensor()};
  }
  const torch::autograd::variable_list r = AddLayerNormFn::apply(y, x, w, b, eps, cpu_autocast_bf16());
  return {r[0], r.size() > 1 ? r[1] : at::Tensor()};
}

}  // namespace disttune
