#include "model/attention.h"

#include <cmath>
#include <limits>

#include "common/check.h"

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
  if (dropout_p > 0) probs = at::dropout(probs, dropout_p, /*train=*/true);
  return at::matmul(probs, v);
#endif
}

}  // namespace disttune
