#include "model/linear.h"

#include "common/check.h"

#if DISTTUNE_HAVE_DNNL
#include <cstdlib>
#include <cstring>

#include <oneapi/dnnl/dnnl.h>
#include <torch/csrc/autograd/custom_function.h>
#endif

namespace disttune {

#if DISTTUNE_HAVE_DNNL
namespace {

// C[M, N] = op(A) op(B) + beta C over contiguous row-major matrices; op transposes when asked.
// oneDNN runs it on the calling thread's OpenMP team (at::set_num_threads sizes it).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const at::Tensor& a,
           const at::Tensor& b, float beta, at::Tensor& c) {
  const dnnl_status_t s =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, 1.0f, a.data_ptr<float>(),
                 trans_a ? M : K, b.data_ptr<float>(), trans_b ? K : N, beta, c.data_ptr<float>(), N);
  DT_CHECK(s == dnnl_success, "dnnl_sgemm(", M, " x ", N, " x ", K, ") failed with status ",
           static_cast<int>(s));
}

// x [M, K] (contiguous), W [N, K], b [N]: what at::linear saves and computes, with the
// three products of forward and backward on oneDNN.
struct OneDnnLinear : public torch::autograd::Function<OneDnnLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, const c10::optional<at::Tensor>& bias_opt) {
    // Optional: apply() cannot take an undefined tensor, and then no edge goes to a bias.
    const at::Tensor bias = bias_opt.value_or(at::Tensor());
    const at::Tensor w = weight.contiguous();
    const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
    // The bias rows first, then the product accumulates onto them: no second pass over y.
    at::Tensor y = bias.defined() ? bias.expand({M, N}).contiguous() : at::empty({M, N}, x.options());
    sgemm(false, true, M, N, K, x, w, bias.defined() ? 1.0f : 0.0f, y);
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
      sgemm(false, false, M, K, N, g, w, 0.0f, dx);  // g W
    }
    if (ctx->needs_input_grad(1)) {
      dw = at::empty({N, K}, w.options());
      sgemm(true, false, N, K, M, g, x, 0.0f, dw);  // g^T x
    }
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) db = g.sum(0);
    return {dx, dw, db};
  }
};

// DISTTUNE_ONEDNN=0 sends everything to at::linear (an A/B switch, and a way out should
// oneDNN misbehave on some CPU); read once.
bool onednn_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("DISTTUNE_ONEDNN");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return on;
}

bool onednn_applies(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (!onednn_enabled()) return false;
  auto cpu_float = [](const at::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided;
  };
  return cpu_float(x) && cpu_float(w) && (!b.defined() || cpu_float(b)) && x.dim() >= 1 &&
         w.dim() == 2 && x.numel() > 0 && w.numel() > 0;
}

}  // namespace
#endif

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
#if DISTTUNE_HAVE_DNNL
  if (onednn_applies(x, weight, bias)) {
    DT_CHECK(x.size(-1) == weight.size(1), "linear: input features ", x.size(-1),
             " differ from the weight's ", weight.size(1));
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = weight.size(0);
    return OneDnnLinear::apply(x.reshape({-1, x.size(-1)}).contiguous(), weight,
                               bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt).view(shape);
  }
#endif
  return at::linear(x, weight, bias);
}

const char* linear_backend() {
#if DISTTUNE_HAVE_DNNL
  return onednn_enabled() ? "oneDNN sgemm" : "ATen (DISTTUNE_ONEDNN=0)";
#else
  return "ATen";
#endif
}

}  // namespace disttune
