#include "model/attention.h"

#include <cmath>
#include <limits>

#include <ATen/ExpandUtils.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/check.h"
#include "model/cpu_gemm.h"
#include "model/dropout.h"

namespace disttune {

at::Tensor padding_bias(const at::Tensor& attention_mask, at::ScalarType dtype) {
  const double lowest = dtype == at::kHalf     ? -65504.0
                        : dtype == at::kBFloat16 ? -3.3895313892515355e38
                        : dtype == at::kDouble   ? std::numeric_limits<double>::lowest()
                                                 : static_cast<double>(std::numeric_limits<float>::lowest());
  at::Tensor keep = attention_mask.to(dtype);
  return (1.0 - keep).mul_(lowest).view({keep.size(0), 1, 1, keep.size(1)});
}

AttentionBias make_attention_bias(const at::Tensor& padding, const at::Tensor& position) {
  AttentionBias b{padding, position, {}};
  // The explicit path keeps the [B, 1, 1, T] padding bias and the [1, heads, T, T] position
  // bias separate (two broadcast adds) instead of materialising their [B, heads, T, T] sum.
  if (kFusedAttention) b.fused = position.defined() ? padding + position : padding;
  return b;
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionBias& bias, double dropout_p, bool q_scaled) {
#if TORCH_VERSION_MAJOR >= 2
  DT_CHECK(!q_scaled, "the fused attention kernel scales q itself");
  return at::scaled_dot_product_attention(q, k, v, bias.fused, dropout_p, /*is_causal=*/false);
#else
  // Scaling q (B*T*H elements) is cheaper than scaling the scores (B*heads*T*T).
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor scores = at::matmul(q_scaled ? q : q * scale, k.transpose(-2, -1));
  // In place: matmul's backward does not need its output.
  if (bias.position.defined()) scores.add_(bias.position);
  if (bias.padding.defined()) scores.add_(bias.padding);
  at::Tensor probs = at::softmax(scores, -1);
  if (dropout_p > 0) probs = dropout(probs, dropout_p);
  return at::matmul(probs, v);
#endif
}

namespace {

// The heads of one [B, T, 3H] qkv buffer and of the [B, T, H] context as strided matrices:
// head h of row b starts at (b T + t) * stride + offset + h d.
struct HeadLayout {
  int64_t B, T, heads, d, H;
  int64_t pairs() const { return B * heads; }
  int64_t row(int64_t i) const { return i / heads; }
  int64_t head(int64_t i) const { return i % heads; }
  // Offset of (b, h)'s first element in a [B, T, width] buffer, `part` H-wide blocks in.
  int64_t at(int64_t i, int64_t width, int64_t part) const {
    return row(i) * T * width + part * H + head(i) * d;
  }
};

// Runs fn(i) for every (row, head) pair i, the pairs spread over the intra-op threads; each
// product inside then runs on its thread alone (small products gain nothing from a team).
template <typename F>
void for_each_head(const HeadLayout& L, const F& fn) {
  at::parallel_for(0, L.pairs(), 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

struct CpuAttention : public torch::autograd::Function<CpuAttention> {
  // qkv [B, T, 3H] contiguous; biases broadcast to [B, heads, T, T]; the position bias may
  // need a gradient (MPNet's relative attention bias), the padding bias never does.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkv, int64_t heads,
                            const c10::optional<at::Tensor>& padding, const c10::optional<at::Tensor>& position,
                            double dropout_p) {
    const int64_t B = qkv.size(0), T = qkv.size(1), H = qkv.size(2) / 3;
    const HeadLayout L{B, T, heads, H / heads, H};
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(L.d)));
    const float* x = qkv.data_ptr<float>();
    at::Tensor scores = at::empty({B, heads, T, T}, qkv.options());
    float* s = scores.data_ptr<float>();
    for_each_head(L, [&](int64_t i) {  // scale q k^T
      cpu_sgemm(false, true, T, T, L.d, scale, x + L.at(i, 3 * H, 0), 3 * H, x + L.at(i, 3 * H, 1), 3 * H, 0.0f,
                s + i * T * T, T);
    });
    if (position) scores.add_(*position);
    if (padding) scores.add_(*padding);
    const at::Tensor probs = at::softmax(scores, -1);
    scores.reset();
    // model/dropout.h's mask, from one key drawn as the explicit path's dropout() draws it:
    // one seed, the same mask on both paths.
    at::Tensor keep, dropped = probs;
    if (dropout_p > 0) {
      DropoutDraw d = dropout_draw(probs, dropout_p, draw_dropout_key());
      dropped = std::move(d.out);
      keep = std::move(d.keep);
    }
    at::Tensor out = at::empty({B, T, H}, qkv.options());
    const float* p = dropped.data_ptr<float>();
    float* o = out.data_ptr<float>();
    for_each_head(L, [&](int64_t i) {  // probs v
      cpu_sgemm(false, false, T, L.d, T, 1.0f, p + i * T * T, T, x + L.at(i, 3 * H, 2), 3 * H, 0.0f,
                o + L.at(i, H, 0), H);
    });
    ctx->save_for_backward({qkv, probs, keep});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["dropout_p"] = dropout_p;
    ctx->saved_data["padding"] = padding.has_value();
    ctx->saved_data["position"] = position ? position->sizes().vec() : std::vector<int64_t>{};
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &qkv = saved[0], &probs = saved[1], &keep = saved[2];
    const int64_t B = qkv.size(0), T = qkv.size(1), H = qkv.size(2) / 3, heads = ctx->saved_data["heads"].toInt();
    const HeadLayout L{B, T, heads, H / heads, H};
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(L.d)));
    const at::Tensor g = grads[0].contiguous();  // [B, T, H]
    const float *x = qkv.data_ptr<float>(), *go = g.data_ptr<float>();
    at::Tensor dqkv = at::empty_like(qkv);
    float* dx = dqkv.data_ptr<float>();

    // d(probs after dropout) = g v^T; dv = (probs after dropout)^T g.
    at::Tensor dprobs = at::empty({B, heads, T, T}, qkv.options());
    const double dropout_p = ctx->saved_data["dropout_p"].toDouble();
    const at::Tensor dropped = keep.defined() ? dropout_apply(probs, keep, dropout_p) : probs;
    float* dp = dprobs.data_ptr<float>();
    const float* p = dropped.data_ptr<float>();
    for_each_head(L, [&](int64_t i) {
      cpu_sgemm(false, true, T, T, L.d, 1.0f, go + L.at(i, H, 0), H, x + L.at(i, 3 * H, 2), 3 * H, 0.0f,
                dp + i * T * T, T);
      cpu_sgemm(true, false, T, L.d, T, 1.0f, p + i * T * T, T, go + L.at(i, H, 0), H, 0.0f,
                dx + L.at(i, 3 * H, 2), 3 * H);
    });
    if (keep.defined()) dprobs = dropout_apply(dprobs, keep, dropout_p);
    // Gradient of the scores (before scaling): the softmax backward.
    const at::Tensor dscores = at::_softmax_backward_data(dprobs, probs, -1, probs.scalar_type());
    dprobs.reset();
    const float* ds = dscores.data_ptr<float>();
    for_each_head(L, [&](int64_t i) {  // dq = scale ds k, dk = scale ds^T q
      cpu_sgemm(false, false, T, L.d, T, scale, ds + i * T * T, T, x + L.at(i, 3 * H, 1), 3 * H, 0.0f,
                dx + L.at(i, 3 * H, 0), 3 * H);
      cpu_sgemm(true, false, T, L.d, T, scale, ds + i * T * T, T, x + L.at(i, 3 * H, 0), 3 * H, 0.0f,
                dx + L.at(i, 3 * H, 1), 3 * H);
    });
    // Inputs: qkv, heads, padding, position, dropout_p; edges only for the tensors given
    // (qkv, then padding and position when present). The padding bias takes no gradient.
    at::Tensor dposition;
    const std::vector<int64_t> position = ctx->saved_data["position"].toIntVector();
    const size_t position_edge = ctx->saved_data["padding"].toBool() ? 2 : 1;
    if (!position.empty() && ctx->needs_input_grad(position_edge)) dposition = at::sum_to(dscores, position);
    return {dqkv, at::Tensor(), at::Tensor(), dposition, at::Tensor()};
  }
};

bool cpu_attention_applies(const at::Tensor& qkv, const AttentionBias& bias) {
  auto cpu_float = [](const at::Tensor& t) {
    return !t.defined() || (t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided);
  };
  return !kFusedAttention && cpu_gemm_enabled() && qkv.dim() == 3 && qkv.numel() > 0 && cpu_float(qkv) &&
         cpu_float(bias.padding) && cpu_float(bias.position);
}

}  // namespace

at::Tensor attention_qkv(const at::Tensor& qkv, int64_t heads, const AttentionBias& bias, double dropout_p) {
  const int64_t B = qkv.size(0), T = qkv.size(1), H = qkv.size(2) / 3, d = H / heads;
  DT_CHECK(qkv.dim() == 3 && qkv.size(2) == 3 * H && H == heads * d, "attention_qkv: qkv ", qkv.sizes(),
           " is not [B, T, 3 x ", heads, " heads x d]");
  if (cpu_attention_applies(qkv, bias)) {
    auto opt = [](const at::Tensor& t) { return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt; };
    return CpuAttention::apply(qkv.contiguous(), heads, opt(bias.padding), opt(bias.position), dropout_p);
  }
  // split, not three selects (or narrows) of one [3, B, heads, T, d] view: split's backward
  // concatenates the three gradients once, where each select's backward materialises a
  // zero-filled gradient of the whole qkv and autograd sums the three (a bge-base step:
  // 96 fewer fills, adds and copies; a quarter fewer page faults).
  const std::vector<at::Tensor> parts = qkv.split(H, 2);
  auto per_head = [&](const at::Tensor& t) { return t.view({B, T, heads, d}).transpose(1, 2); };
  at::Tensor q = per_head(parts[0]);
  // The explicit attention path takes q pre-scaled; out of place, as a split output may
  // not be modified in place (the in-place form also cost a full-qkv clone in backward).
  if (!kFusedAttention) q = q * (1.0 / std::sqrt(static_cast<double>(d)));
  return attention(q, per_head(parts[1]), per_head(parts[2]), bias, dropout_p, !kFusedAttention)
      .transpose(1, 2)
      .reshape({B, T, H});
}

}  // namespace disttune
