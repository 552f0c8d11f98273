#include "model/linear.h"

#include <ATen/Parallel.h>
#include <c10/util/Optional.h>  // c10::optional: its own class in libtorch 1.x, an alias of std::optional in 2.x
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "model/autocast.h"
#include "model/cpu_gemm.h"
#include "model/cpu_tensor.h"
#include "model/grad_accumulate.h"

namespace disttune {
namespace {

// c = op(a) op(b) + beta c over contiguous float32 matrices (c is M x N).
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const at::Tensor& a,
          const at::Tensor& b, float beta, at::Tensor& c) {
  cpu_sgemm(trans_a, trans_b, M, N, K, 1.0f, a.data_ptr<float>(), trans_a ? M : K, b.data_ptr<float>(),
            trans_b ? K : N, beta, c.data_ptr<float>(), N);
}

// Every row of the contiguous [M, N] y set to the bias: the product then accumulates onto
// it (beta 1), with no second pass over y. A row copy per row: at::expand(...).contiguous()
// takes the strided copy path, ~3x slower at these sizes.
void fill_rows(at::Tensor& y, const at::Tensor& bias) {
  const int64_t M = y.size(0), N = y.size(1);
  const float* b = bias.data_ptr<float>();
  float* out = y.data_ptr<float>();
  at::parallel_for(0, M, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) std::memcpy(out + i * N, b, N * sizeof(float));
  });
}

// Rows of g per weight-gradient product and per partial bias sum; columns per partial sum.
constexpr int64_t kSlice = 256;
constexpr int64_t kColumns = 256;

// Column sums of rows [m0, m0 + rows) of the contiguous [M, N] g, added to db (N floats).
// Per slice and then into db: a float32 sum over thousands of tokens in one running total
// would lose more than ATen's cascaded sum does.
void add_column_sums(const float* g, int64_t N, int64_t m0, int64_t rows, float* db) {
  at::parallel_for(0, N, kColumns, [&](int64_t begin, int64_t end) {
    float part[kColumns];
    for (int64_t j0 = begin; j0 < end; j0 += kColumns) {
      const int64_t n = std::min(kColumns, end - j0);
      std::fill(part, part + n, 0.0f);
      for (int64_t i = m0; i < m0 + rows; ++i) {
        const float* row = g + i * N + j0;
        for (int64_t j = 0; j < n; ++j) part[j] += row[j];
      }
      for (int64_t j = 0; j < n; ++j) db[j0 + j] += part[j];
    }
  });
}

// The parameter gradients of y = x W^T + b from g [M, N] and x [M, K]: dW = g^T x into `dw`
// ([N, K]; beta 1 adds, 0 writes; null: none) and b's, g's column sums, added to `db` (N
// floats; null: none). oneDNN's sgemm runs the transposed-operand product with a long
// reduction (the batch's tokens) at 75-85% of its speed on the other products; in 256-row
// slices of g and x, accumulated, it keeps up with them (AVX-512 VM, [1536, 384] weight,
// 3072 tokens: 1 thread 81-97 -> 113-124 GFLOP/s, 2 threads 188-207 -> 208-244), as fast as
// OpenBLAS at one thread in a whole step. Each slice of g is summed just before the product
// reads it: one pass over g for both gradients.
void parameter_grads(const at::Tensor& g, const at::Tensor& x, float beta, float* dw, float* db) {
  const int64_t M = g.size(0), N = g.size(1), K = x.size(1);
  const float* gp = g.data_ptr<float>();
  const float* xp = x.data_ptr<float>();
  for (int64_t m0 = 0; m0 < M; m0 += kSlice) {
    const int64_t rows = std::min(kSlice, M - m0);
    if (db != nullptr) add_column_sums(gp, N, m0, rows, db);
    if (dw != nullptr)
      cpu_sgemm(true, false, N, K, rows, 1.0f, gp + m0 * N, N, xp + m0 * K, K, m0 == 0 ? beta : 1.0f, dw, K);
  }
}

// y = x W^T + b for x [..., K] (any layout), W [N, K], b [N]: what at::linear computes,
// with its three products on cpu_sgemm. The output is created in its final shape: a view of
// it would make the encoder's in-place residual add on it an autograd CopySlices (a clone
// and a strided copy of the gradient per layer).
struct CpuLinear : public torch::autograd::Function<CpuLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, const c10::optional<at::Tensor>& bias_opt) {
    // Optional: apply() cannot take an undefined tensor, and then no edge goes to a bias.
    const at::Tensor bias = bias_opt.value_or(at::Tensor());
    const at::Tensor w = weight.contiguous();
    const int64_t K = x.size(-1), N = w.size(0);
    const at::Tensor x2 = x.reshape({-1, K}).contiguous();
    const int64_t M = x2.size(0);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = N;
    const at::Tensor y = at::empty(shape, x.options());
    at::Tensor y2 = y.view({M, N});  // the same memory; a view would not be a valid output
    if (bias.defined()) fill_rows(y2, bias.contiguous());
    gemm(false, true, M, N, K, x2, w, bias.defined() ? 1.0f : 0.0f, y2);
    // The weight and the bias themselves: backward reaches their .grad (model/grad_accumulate.h).
    ctx->save_for_backward({x2, w, weight, bias});
    ctx->saved_data["bias"] = bias.defined();
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const at::Tensor& weight = saved[2];
    const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
    const at::Tensor g = grads[0].reshape({M, N}).contiguous();
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      dx = at::empty({M, K}, x.options());
      gemm(false, false, M, K, N, g, w, 0.0f, dx);  // g W
      std::vector<int64_t> x_shape = grads[0].sizes().vec();  // y's shape, x's but for the last
      x_shape.back() = K;
      dx = dx.view(x_shape);
    }
    // Into the parameters' allocated .grad where it can (model/grad_accumulate.h), otherwise
    // into returned gradients.
    float* dw_ptr = nullptr;
    float beta = 1.0f;
    if (ctx->needs_input_grad(1)) {
      at::Tensor into = accumulation_target(weight);
      if (!into.defined()) {
        into = dw = at::empty({N, K}, w.options());
        beta = 0.0f;
      }
      dw_ptr = into.data_ptr<float>();
    }
    float* db_ptr = nullptr;
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) {
      at::Tensor into = accumulation_target(saved[3]);
      if (!into.defined()) into = db = at::zeros({N}, w.options());
      db_ptr = into.data_ptr<float>();
    }
    if (dw_ptr != nullptr || db_ptr != nullptr) parameter_grads(g, x, beta, dw_ptr, db_ptr);
    return {dx, dw, db};
  }
};

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  // Under CPU autocast ATen's at::linear runs the product in bf16 (CpuLinear would stay fp32).
  if (cpu_gemm_enabled() && !cpu_autocast_enabled() && cpu_strided(x, at::kFloat) &&
      cpu_strided(weight, at::kFloat) && (!bias.defined() || cpu_strided(bias, at::kFloat)) &&
      x.dim() >= 1 && weight.dim() == 2 && x.numel() > 0 && weight.numel() > 0) {
    DT_CHECK(x.size(-1) == weight.size(1), "linear: input features ", x.size(-1),
             " differ from the weight's ", weight.size(1));
    return CpuLinear::apply(x, weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt);
  }
  return at::linear(x, weight, bias);
}

const char* linear_backend() { return cpu_gemm_name(); }

}  // namespace disttune
