// AdamW: the Hugging Face no-decay rule, one step worked by hand, the three
// implementations agreeing, state round trips. Parity with torch.optim.AdamW over whole
// training runs is in training_test.cpp.
#include "train/optimizer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>

#include "train/train_test_util.h"

namespace disttune {
namespace {

using namespace train_test;

TEST(AdamW, HuggingFaceNoDecayRule) {
  EXPECT_TRUE(hf_weight_decay("encoder.layer.0.attention.self.query.weight"));
  EXPECT_TRUE(hf_weight_decay("embeddings.word_embeddings.weight"));
  EXPECT_TRUE(hf_weight_decay("pooler.dense.weight"));
  EXPECT_FALSE(hf_weight_decay("encoder.layer.0.attention.self.query.bias"));
  EXPECT_FALSE(hf_weight_decay("embeddings.LayerNorm.weight"));
  EXPECT_FALSE(hf_weight_decay("encoder.layer.3.output.LayerNorm.bias"));
  EXPECT_FALSE(hf_weight_decay("encoder.layer_norm.weight"));
  EXPECT_FALSE(hf_weight_decay("model.norm.weight"));
  EXPECT_FALSE(hf_weight_decay("layers.0.input_norm.weight"));
  EXPECT_TRUE(hf_weight_decay("normalizer.weight"));  // "norm" only as a whole component
}

TEST(AdamW, OneStepWorkedByHand) {
  // p = 1, g = 0.5, lr 0.1, wd 0.01, step 1: m = 0.05, v = 0.00025, m_hat = 0.5,
  // v_hat = 0.25, p = 1 * (1 - 0.001) - 0.1 * 0.5 / (0.5 + 1e-8).
  for (auto impl : {AdamW::Impl::Fused, AdamW::Impl::Foreach, AdamW::Impl::PerTensor}) {
    at::Tensor p = at::ones({3}).requires_grad_(true);
    p.mutable_grad() = at::full({3}, 0.5);
    AdamWOptions o;
    o.weight_decay = 0.01;
    AdamW opt({{"w.weight", p}}, o, impl);
    opt.step(0.1);
    const double expect = 0.999 - 0.1 * 0.5 / (std::sqrt(0.25) + 1e-8);
    EXPECT_NEAR(p[1].item<double>(), expect, 1e-7);
    EXPECT_NEAR(opt.state("w.weight").exp_avg[0].item<double>(), 0.05, 1e-9);
    EXPECT_NEAR(opt.state("w.weight").exp_avg_sq[0].item<double>(), 0.00025, 1e-10);
    EXPECT_EQ(opt.state("w.weight").step, 1);
  }
}

TEST(AdamW, FusedForeachAndPerTensorAgree) {
  at::manual_seed(7);
  std::vector<at::Tensor> init{at::randn({64, 33}), at::randn({33}), at::randn({1000})};
  std::vector<std::string> names{"a.weight", "a.bias", "LayerNorm.weight"};
  std::vector<std::vector<at::Tensor>> grads;
  for (int s = 0; s < 4; ++s) {
    grads.emplace_back();
    for (auto& t : init) grads.back().push_back(at::randn_like(t));
  }
  std::vector<std::vector<at::Tensor>> finals;
  for (auto impl : {AdamW::Impl::PerTensor, AdamW::Impl::Foreach, AdamW::Impl::Fused}) {
    NamedParameters ps;
    for (size_t i = 0; i < init.size(); ++i) ps.emplace_back(names[i], init[i].clone().requires_grad_(true));
    AdamWOptions o;
    o.weight_decay = 0.1;
    AdamW opt(ps, o, impl);
    EXPECT_TRUE(opt.decays(0));
    EXPECT_FALSE(opt.decays(1));
    EXPECT_FALSE(opt.decays(2));
    for (int s = 0; s < 4; ++s) {
      for (size_t i = 0; i < ps.size(); ++i) ps[i].second.mutable_grad() = grads[s][i];
      opt.step(1e-2 * (s + 1));
    }
    finals.emplace_back();
    for (auto& np : ps) finals.back().push_back(np.second.detach().clone());
  }
  for (size_t k = 1; k < finals.size(); ++k)
    for (size_t i = 0; i < init.size(); ++i) EXPECT_LT(rel_error(finals[k][i], finals[0][i]), 1e-6);
}

// step(lr, s) is step(lr) on the gradients times s (clipping's coefficient), to the bit, for
// every implementation; the fused one leaves the gradients unscaled.
TEST(AdamW, GradScaleIsTheScaledGradient) {
  at::manual_seed(12);
  const at::Tensor init = at::randn({257}), grad = at::randn({257});
  const float s = 0.3719f;
  for (auto impl : {AdamW::Impl::PerTensor, AdamW::Impl::Foreach, AdamW::Impl::Fused}) {
    at::Tensor a = init.clone().requires_grad_(true), b = init.clone().requires_grad_(true);
    AdamWOptions o;
    o.weight_decay = 0.1;
    AdamW oa({{"w.weight", a}}, o, impl), ob({{"w.weight", b}}, o, impl);
    for (int step = 0; step < 3; ++step) {
      a.mutable_grad() = grad.clone();
      b.mutable_grad() = grad * s;
      oa.step(1e-2, s);
      ob.step(1e-2);
    }
    EXPECT_TRUE(at::equal(a, b)) << static_cast<int>(impl);
    EXPECT_TRUE(at::equal(oa.state("w.weight").exp_avg_sq, ob.state("w.weight").exp_avg_sq)) << static_cast<int>(impl);
    if (impl == AdamW::Impl::Fused) {
      EXPECT_TRUE(at::equal(a.grad(), grad));
    }
  }
}

TEST(AdamW, ParametersWithoutGradientAreSkipped) {
  at::Tensor a = at::ones({2}).requires_grad_(true), b = at::ones({2}).requires_grad_(true);
  a.mutable_grad() = at::ones({2});
  AdamW opt({{"a", a}, {"b", b}}, AdamWOptions{});
  opt.step(0.1);
  EXPECT_EQ(opt.state("a").step, 1);
  EXPECT_EQ(opt.state("b").step, 0);
  EXPECT_TRUE(at::equal(b, at::ones({2})));
}

TEST(AdamW, StateRoundTripContinuesIdentically) {
  auto make = [] {
    NamedParameters ps{{"x.weight", at::linspace(-1, 1, 10).requires_grad_(true)},
                       {"x.bias", at::linspace(0, 1, 3).requires_grad_(true)}};
    return ps;
  };
  NamedParameters pa = make(), pb = make();
  AdamWOptions o;
  o.weight_decay = 0.05;
  AdamW a(pa, o), b(pb, o);
  auto set_grads = [](NamedParameters& ps, int s) {
    for (auto& np : ps) np.second.mutable_grad() = at::cos(at::arange(np.second.numel(), at::kFloat) + s);
  };
  for (int s = 0; s < 3; ++s) {
    set_grads(pa, s);
    a.step(0.01);
  }
  // b takes a's parameters and state, then both take the same further steps.
  for (size_t i = 0; i < pa.size(); ++i) {
    at::NoGradGuard ng;
    pb[i].second.copy_(pa[i].second);
    b.set_state(pa[i].first, a.state(pa[i].first));
  }
  EXPECT_EQ(b.state("x.bias").step, 3);
  for (int s = 3; s < 5; ++s) {
    set_grads(pa, s);
    set_grads(pb, s);
    a.step(0.01);
    b.step(0.01);
  }
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(at::equal(pa[i].second, pb[i].second));
  AdamWState bad;
  bad.exp_avg = at::zeros({4});
  bad.exp_avg_sq = at::zeros({4});
  EXPECT_THROW(b.set_state("x.bias", bad), UserError);
  EXPECT_THROW(b.state("nope"), UserError);
}

}  // namespace
}  // namespace disttune
