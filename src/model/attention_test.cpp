#include "model/attention.h"

#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "model/cpu_gemm.h"

namespace disttune {
namespace {

// attention() on per-head views of qkv, the path attention_qkv falls back to (on libtorch 2
// the fused kernel, which scales q itself).
at::Tensor explicit_path(const at::Tensor& qkv, int64_t heads, const AttentionBias& bias, double p) {
  const int64_t B = qkv.size(0), T = qkv.size(1), H = qkv.size(2) / 3, d = H / heads;
  const std::vector<at::Tensor> parts = qkv.split(H, 2);
  auto per_head = [&](const at::Tensor& t) { return t.reshape({B, T, heads, d}).transpose(1, 2); };
  const bool prescale = !kFusedAttention;
  at::Tensor q = per_head(parts[0]);
  if (prescale) q = q * (1.0 / std::sqrt(static_cast<double>(d)));
  return attention(q, per_head(parts[1]), per_head(parts[2]), bias, p, prescale)
      .transpose(1, 2)
      .reshape({B, T, H});
}

struct AttentionRun {
  at::Tensor out, dqkv, dposition;
};

AttentionRun run(bool fused_entry, const at::Tensor& qkv0, const at::Tensor& mask, const at::Tensor& position0,
        int64_t heads, double p, const at::Tensor& weight) {
  at::Tensor qkv = qkv0.clone().requires_grad_(true);
  at::Tensor position = position0.defined() ? position0.clone().requires_grad_(true) : at::Tensor();
  const AttentionBias bias{padding_bias(mask, at::kFloat), position, {}};
  at::manual_seed(11);  // the same dropout draws on both paths
  const at::Tensor out = fused_entry ? attention_qkv(qkv, heads, bias, p) : explicit_path(qkv, heads, bias, p);
  (out * weight).sum().backward();
  return {out.detach(), qkv.grad(), position.defined() ? position.grad() : at::Tensor()};
}

void expect_attention_close(const at::Tensor& a, const at::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double err = (a - b).abs().max().item<double>();
  EXPECT_LT(err, 2e-5 * (1 + b.abs().max().item<double>())) << what << ": max |difference| " << err;
}

// Whatever attention_qkv runs (the oneDNN kernel where built, the explicit path otherwise),
// its context and the gradients of qkv and of a position bias are the explicit path's, with
// padded rows, a relative position bias and dropout (the same seed draws the same mask).
TEST(Attention, FromQkvMatchesTheExplicitPath) {
  at::manual_seed(5);
  const int64_t B = 3, T = 7, heads = 4, H = 32;
  const at::Tensor mask = (at::arange(T).unsqueeze(0) < at::tensor({7, 4, 1}).unsqueeze(1)).to(at::kLong);
  for (bool with_position : {false, true}) {
    for (double p : {0.0, 0.1}) {
      const at::Tensor qkv = at::randn({B, T, 3 * H});
      const at::Tensor position = with_position ? at::randn({1, heads, T, T}) : at::Tensor();
      const at::Tensor weight = at::randn({B, T, H});
      const AttentionRun got = run(true, qkv, mask, position, heads, p, weight);
      const AttentionRun want = run(false, qkv, mask, position, heads, p, weight);
      const std::string what = std::string(with_position ? "position bias" : "padding only") + ", dropout " +
                               std::to_string(p) + ": ";
      expect_attention_close(got.out, want.out, what + "context");
      expect_attention_close(got.dqkv, want.dqkv, what + "d qkv");
      if (with_position) expect_attention_close(got.dposition, want.dposition, what + "d position");
    }
  }
}

// training.precision bf16: qkv is autocast's bf16 product. The kernel stages each head in
// float32, so its context and d qkv are the explicit path's in float32 on the same
// bf16-valued inputs, rounded once to bf16: within half a bf16 step (2^-9 relative, so
// 2^-8 of the value bounds it), where truncating or a second rounding would not stay. The
// position bias's gradient is float32 throughout. d = 40: a tail after the 16-lane groups.
TEST(Attention, Bf16QkvIsTheFloat32PathRoundedOnce) {
  if (kFusedAttention || !cpu_gemm_enabled()) GTEST_SKIP() << "the bf16 kernel is libtorch 1.x's oneDNN path";
  at::manual_seed(8);
  const int64_t B = 3, T = 9, heads = 2, H = 80;
  const at::Tensor mask = (at::arange(T).unsqueeze(0) < at::tensor({9, 5, 1}).unsqueeze(1)).to(at::kLong);
  auto expect_rounded_once = [](const at::Tensor& got, const at::Tensor& want, const std::string& what) {
    ASSERT_EQ(got.scalar_type(), at::kBFloat16) << what;
    ASSERT_EQ(got.sizes(), want.sizes()) << what;
    const at::Tensor excess = (got.to(at::kFloat) - want).abs() - want.abs() * std::ldexp(1.0, -8);
    EXPECT_LT(excess.max().item<double>(), 1e-6) << what << ": more than one rounding from float32";
  };
  for (bool with_position : {false, true}) {
    for (double p : {0.0, 0.1}) {
      const at::Tensor qkv = at::randn({B, T, 3 * H}).to(at::kBFloat16);
      const at::Tensor position = with_position ? at::randn({1, heads, T, T}) : at::Tensor();
      const at::Tensor weight = at::randn({B, T, H}).to(at::kBFloat16);
      const AttentionRun got = run(true, qkv, mask, position, heads, p, weight);
      const AttentionRun want = run(false, qkv.to(at::kFloat), mask, position, heads, p, weight.to(at::kFloat));
      const std::string what = std::string(with_position ? "position bias" : "padding only") + ", dropout " +
                               std::to_string(p) + ": ";
      expect_rounded_once(got.out, want.out, what + "context");
      expect_rounded_once(got.dqkv, want.dqkv, what + "d qkv");
      if (with_position) expect_attention_close(got.dposition, want.dposition, what + "d position");
    }
  }
}

// No bias at all (an unpadded batch of a model without position bias) is no mask: the same
// context as an all-zero padding bias.
TEST(Attention, NoBiasIsNoMask) {
  at::manual_seed(7);
  const at::Tensor q = at::randn({2, 3, 5, 8}), k = at::randn({2, 3, 5, 8}), v = at::randn({2, 3, 5, 8});
  const at::Tensor none = attention(q, k, v, AttentionBias{}, 0.0);
  const at::Tensor zero = attention(q, k, v, make_attention_bias(at::zeros({2, 1, 1, 5})), 0.0);
  expect_attention_close(none, zero, "no bias");
}

TEST(Attention, DropoutChangesTheContextAndZeroDropoutDoesNot) {
  // Guards the comparison above against a dropout that does nothing on either path.
  at::manual_seed(6);
  const at::Tensor qkv = at::randn({2, 5, 48});
  const AttentionBias bias{padding_bias(at::ones({2, 5}, at::kLong), at::kFloat), {}, {}};
  at::NoGradGuard no_grad;
  const at::Tensor plain = attention_qkv(qkv, 2, bias, 0.0);
  at::manual_seed(1);
  const at::Tensor a = attention_qkv(qkv, 2, bias, 0.0);
  EXPECT_TRUE(at::equal(plain, a));
  const at::Tensor dropped = attention_qkv(qkv, 2, bias, 0.5);
  EXPECT_GT((dropped - plain).abs().max().item<double>(), 1e-3);
}

}  // namespace
}  // namespace disttune
