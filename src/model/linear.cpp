#include "model/linear.h"

#include <torch/csrc/autograd/custom_function.h>

#include "common/check.h"
#include "model/cpu_gemm.h"

namespace disttune {
namespace {

// c = op(a) op(b) + beta c over contiguous float32 matrices (c is M x N).
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const at::Tensor& a,
          const at::Tensor& b, float beta, at::Tensor& c) {
  cpu_sgemm(trans_a, trans_b, M, N, K, 1.0f, a.data_ptr<float>(), trans_a ? M : K, b.data_ptr<float>(),
            trans_b ? K : N, beta, c.data_ptr<float>(), N);
}

// x [M, K] (contiguous), W [N, K], b [N]: what at::linear saves and computes, with the
// three products of forward and backward on cpu_sgemm.
struct CpuLinear : public torch::autograd::Function<CpuLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, const c10::optional<at::Tensor>& bias_opt) {
    // Optional: apply() cannot take an undefined tensor, and then no edge goes to a bias.
    const at::Tensor bias = bias_opt.value_or(at::Tensor());
    const at::Tensor w = weight.contiguous();
    const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
    // The bias rows first, then the product accumulates onto them: no second pass over y.
    at::Tensor y = bias.defined() ? bias.expand({M, N}).contiguous() : at::empty({M, N}, x.options());
    gemm(false, true, M, N, K, x, w, bias.defined() ? 1.0f : 0.0f, y);
    ctx->save_for_backward({x, w});
    ctx->saved_data["bias"] = bias.defined();
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const at::Tensor g = grads[0].contiguous();
    const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      dx = at::empty({M, K}, x.options());
      gemm(false, false, M, K, N, g, w, 0.0f, dx);  // g W
    }
    if (ctx->needs_input_grad(1)) {
      dw = at::empty({N, K}, w.options());
      gemm(true, false, N, K, M, g, x, 0.0f, dw);  // g^T x
    }
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) db = g.sum(0);
    return {dx, dw, db};
  }
};

bool cpu_float(const at::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided;
}

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (cpu_gemm_enabled() && cpu_float(x) && cpu_float(weight) && (!bias.defined() || cpu_float(bias)) &&
      x.dim() >= 1 && weight.dim() == 2 && x.numel() > 0 && weight.numel() > 0) {
    DT_CHECK(x.size(-1) == weight.size(1), "linear: input features ", x.size(-1),
             " differ from the weight's ", weight.size(1));
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = weight.size(0);
    return CpuLinear::apply(x.reshape({-1, x.size(-1)}).contiguous(), weight,
                            bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt)
        .view(shape);
  }
  return at::linear(x, weight, bias);
}

const char* linear_backend() { return cpu_gemm_name(); }

}  // namespace disttune
