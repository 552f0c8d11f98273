#include "model/pooling.h"

#include "common/check.h"

namespace disttune {

PoolingMode parse_pooling_mode(const std::string& name) {
  if (name == "mean") return PoolingMode::kMean;
  if (name == "cls") return PoolingMode::kCls;
  if (name == "max") return PoolingMode::kMax;
  if (name == "lasttoken") return PoolingMode::kLastToken;
  if (name == "mean_sqrt_len") return PoolingMode::kMeanSqrtLen;
  DT_FAIL("pooling '", name, "' is not one of mean, cls, max, lasttoken, mean_sqrt_len");
}

std::string pooling_mode_name(PoolingMode mode) {
  switch (mode) {
    case PoolingMode::kMean: return "mean";
    case PoolingMode::kCls: return "cls";
    case PoolingMode::kMax: return "max";
    case PoolingMode::kLastToken: return "lasttoken";
    case PoolingMode::kMeanSqrtLen: return "mean_sqrt_len";
  }
  return "?";
}

at::Tensor pool(const at::Tensor& token_states, const at::Tensor& attention_mask, PoolingMode mode) {
  DT_CHECK(token_states.dim() == 3 && attention_mask.dim() == 2, "pool expects [B, T, H] and [B, T]");
  const at::Tensor x = token_states.to(at::kFloat);
  const at::Tensor m = attention_mask.to(at::kFloat).unsqueeze(-1);  // [B, T, 1]
  switch (mode) {
    case PoolingMode::kCls:
      return x.select(1, 0);
    case PoolingMode::kMean:
    case PoolingMode::kMeanSqrtLen: {
      at::Tensor sum = (x * m).sum(1);
      at::Tensor count = m.sum(1).clamp_min(1e-9);
      return sum / (mode == PoolingMode::kMean ? count : count.sqrt());
    }
    case PoolingMode::kMax:
      return x.masked_fill(m == 0, -1e9).amax(1);
    case PoolingMode::kLastToken: {
      // Last index whose mask is 1: argmax over the reversed mask finds its distance from
      // the end; a row without tokens selects position T-1, zeroed by the mask.
      const int64_t T = x.size(1);
      at::Tensor keep = attention_mask.to(at::kInt);
      at::Tensor last = (T - 1) - keep.flip({1}).argmax(1);  // [B]
      at::Tensor index = last.view({-1, 1, 1}).expand({x.size(0), 1, x.size(2)});
      return (x * m).gather(1, index).squeeze(1);
    }
  }
  return x;
}

at::Tensor l2_normalize(const at::Tensor& x, double eps) {
  return x / x.norm(2, {1}, /*keepdim=*/true).clamp_min(eps);
}

}  // namespace disttune
