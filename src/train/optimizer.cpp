#include "train/optimizer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <cctype>
#include <cmath>

#include "common/check.h"

namespace disttune {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// True when `s` has `word` as a whole dotted component ("(^|\.)norm($|\.)").
bool has_component(const std::string& s, const std::string& word) {
  size_t pos = 0;
  while ((pos = s.find(word, pos)) != std::string::npos) {
    const bool start = pos == 0 || s[pos - 1] == '.';
    const size_t end = pos + word.size();
    if (start && (end == s.size() || s[end] == '.')) return true;
    ++pos;
  }
  return false;
}

// "_norm" followed by the end or a dot ("_norm($|\.)").
bool has_suffix_norm(const std::string& s) {
  size_t pos = 0;
  while ((pos = s.find("_norm", pos)) != std::string::npos) {
    const size_t end = pos + 5;
    if (end == s.size() || s[end] == '.') return true;
    ++pos;
  }
  return false;
}

// One pass over a float32 tensor in torch's order of operations:
//   g *= grad_scale (clipping);  p *= 1 - lr*wd;  m = m*b1 + (1-b1)*g;  v = v*b2 + (1-b2)*g*g;
//   p += -step_size * (m / (sqrt(v) / sqrt(bc2) + eps))
struct FusedArgs {
  float grad_scale, decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;
};

// Built with -O3 -fno-math-errno (CMakeLists.txt) so that GCC vectorises the loop, sqrt and
// division included; an AVX2 clone is picked at run time where the CPU has it.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void fused_adamw_range(float* __restrict p, const float* __restrict g, float* __restrict m,
                       float* __restrict v, int64_t n, const FusedArgs a) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] * a.grad_scale;
    const float mi = m[i] * a.beta1 + a.one_minus_beta1 * gi;
    const float vi = v[i] * a.beta2 + a.one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / a.bc2_sqrt + a.eps;
    p[i] = p[i] * a.decay + a.neg_step_size * (mi / denom);
  }
}

}  // namespace

bool hf_weight_decay(const std::string& param_name) {
  const std::string s = lower(param_name);
  if (s.find("bias") != std::string::npos) return false;
  if (s.find("layernorm") != std::string::npos || s.find("layer_norm") != std::string::npos ||
      s.find("rmsnorm") != std::string::npos)
    return false;
  if (has_component(s, "norm") || has_suffix_norm(s)) return false;
  return true;
}

AdamW::AdamW(NamedParameters params, AdamWOptions opt, Impl impl)
    : AdamW(params, [&] {
        std::vector<bool> d;
        for (const auto& np : params) d.push_back(hf_weight_decay(np.first));
        return d;
      }(), opt, impl) {}

AdamW::AdamW(NamedParameters params, std::vector<bool> decays, AdamWOptions opt, Impl impl)
    : params_(std::move(params)), decays_(std::move(decays)), opt_(opt), impl_(impl) {
  DT_CHECK(decays_.size() == params_.size(), "AdamW: ", decays_.size(), " decay flags for ",
           params_.size(), " parameters");
  DT_CHECK(opt_.eps >= 0 && opt_.beta1 >= 0 && opt_.beta1 < 1 && opt_.beta2 >= 0 && opt_.beta2 < 1,
           "AdamW: invalid betas/eps");
  for (const auto& [name, p] : params_) {
    DT_CHECK(p.defined() && at::isFloatingType(p.scalar_type()), "AdamW: parameter ", name,
             " is not a floating tensor");
    AdamWState s;
    s.exp_avg = at::zeros_like(p, at::MemoryFormat::Contiguous);
    s.exp_avg_sq = at::zeros_like(p, at::MemoryFormat::Contiguous);
    state_.push_back(std::move(s));
  }
  for (size_t i = 0; i < params_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      DT_CHECK(params_[i].first != params_[j].first, "AdamW: duplicate parameter name ",
               params_[i].first);
}

size_t AdamW::index_of(const std::string& name) const {
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].first == name) return i;
  DT_FAIL("optimizer state: no parameter named '", name, "'");
}

const AdamWState& AdamW::state(const std::string& name) const { return state_[index_of(name)]; }

void AdamW::set_state(const std::string& name, const AdamWState& s) {
  const size_t i = index_of(name);
  const at::Tensor& p = params_[i].second;
  DT_REQUIRE(s.exp_avg.defined() && s.exp_avg_sq.defined() && s.exp_avg.sizes() == p.sizes() &&
                 s.exp_avg_sq.sizes() == p.sizes(),
             "optimizer state for '", name, "': moments of shape ",
             s.exp_avg.defined() ? s.exp_avg.sizes() : at::IntArrayRef{}, " for a parameter of shape ",
             p.sizes());
  DT_REQUIRE(s.step >= 0, "optimizer state for '", name, "': negative step ", s.step);
  state_[i].exp_avg = s.exp_avg.to(p.options()).contiguous().clone();
  state_[i].exp_avg_sq = s.exp_avg_sq.to(p.options()).contiguous().clone();
  state_[i].step = s.step;
}

void AdamW::step(double lr, float grad_scale) {
  at::NoGradGuard no_grad;
  std::vector<size_t> foreach_decay, foreach_plain;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i].second;
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    DT_CHECK(g.sizes() == p.sizes(), "AdamW: gradient shape of ", params_[i].first);
    ++state_[i].step;
    const bool fusable = p.device().is_cpu() && p.scalar_type() == at::kFloat &&
                         g.scalar_type() == at::kFloat && p.is_contiguous();
    Impl impl = impl_;
    if (impl == Impl::Auto) impl = fusable ? Impl::Fused : Impl::Foreach;
    if (impl == Impl::Fused && !fusable) impl = Impl::Foreach;
    if (impl != Impl::Fused && grad_scale != 1.0f) p.grad().mul_(grad_scale);
    switch (impl) {
      case Impl::Fused: step_fused(i, lr, grad_scale); break;
      case Impl::PerTensor: step_per_tensor(i, lr); break;
      default: (decays_[i] ? foreach_decay : foreach_plain).push_back(i);
    }
  }
  if (!foreach_decay.empty()) step_foreach(foreach_decay, lr, true);
  if (!foreach_plain.empty()) step_foreach(foreach_plain, lr, false);
}

void AdamW::step_fused(size_t i, double lr, float grad_scale) {
  at::Tensor& p = params_[i].second;
  at::Tensor g = p.grad().contiguous();
  AdamWState& s = state_[i];
  const double wd = decays_[i] ? opt_.weight_decay : 0.0;
  const double bc1 = 1 - std::pow(opt_.beta1, static_cast<double>(s.step));
  const double bc2 = 1 - std::pow(opt_.beta2, static_cast<double>(s.step));
  const FusedArgs a{grad_scale,
                    static_cast<float>(1 - lr * wd),
                    static_cast<float>(opt_.beta1),
                    static_cast<float>(1 - opt_.beta1),
                    static_cast<float>(opt_.beta2),
                    static_cast<float>(1 - opt_.beta2),
                    static_cast<float>(std::sqrt(bc2)),
                    static_cast<float>(opt_.eps),
                    static_cast<float>(-(lr / bc1))};
  float* pp = p.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* mp = s.exp_avg.data_ptr<float>();
  float* vp = s.exp_avg_sq.data_ptr<float>();
  at::parallel_for(0, p.numel(), 1 << 16, [&](int64_t b, int64_t e) {
    fused_adamw_range(pp + b, gp + b, mp + b, vp + b, e - b, a);
  });
}

void AdamW::step_per_tensor(size_t i, double lr) {
  at::Tensor& p = params_[i].second;
  const at::Tensor& g = p.grad();
  AdamWState& s = state_[i];
  const double wd = decays_[i] ? opt_.weight_decay : 0.0;
  p.mul_(1 - lr * wd);
  s.exp_avg.mul_(opt_.beta1).add_(g, 1 - opt_.beta1);
  s.exp_avg_sq.mul_(opt_.beta2).addcmul_(g, g, 1 - opt_.beta2);
  const double bc1 = 1 - std::pow(opt_.beta1, static_cast<double>(s.step));
  const double bc2 = 1 - std::pow(opt_.beta2, static_cast<double>(s.step));
  at::Tensor denom = (s.exp_avg_sq.sqrt() / std::sqrt(bc2)).add_(opt_.eps);
  p.addcdiv_(s.exp_avg, denom, -(lr / bc1));
}

void AdamW::step_foreach(const std::vector<size_t>& idx, double lr, bool decay) {
  std::vector<at::Tensor> ps, gs, ms, vs;
  std::vector<at::Scalar> neg_step_size, bc2_sqrt;
  for (size_t i : idx) {
    ps.push_back(params_[i].second);
    gs.push_back(params_[i].second.grad());
    ms.push_back(state_[i].exp_avg);
    vs.push_back(state_[i].exp_avg_sq);
    const double t = static_cast<double>(state_[i].step);
    neg_step_size.emplace_back(-(lr / (1 - std::pow(opt_.beta1, t))));
    bc2_sqrt.emplace_back(std::sqrt(1 - std::pow(opt_.beta2, t)));
  }
  at::_foreach_mul_(ps, 1 - lr * (decay ? opt_.weight_decay : 0.0));
  at::_foreach_mul_(ms, opt_.beta1);
  at::_foreach_add_(ms, gs, 1 - opt_.beta1);
  at::_foreach_mul_(vs, opt_.beta2);
  at::_foreach_addcmul_(vs, gs, gs, 1 - opt_.beta2);
  std::vector<at::Tensor> denom = at::_foreach_sqrt(vs);
  at::_foreach_div_(denom, bc2_sqrt);
  at::_foreach_add_(denom, opt_.eps);
  at::_foreach_addcdiv_(ps, ms, denom, neg_step_size);
}

}  // namespace disttune
