#include "model/transformer_layer.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/check.h"
#include "model/checkpoint.h"
#include "model/dropout.h"
#include "model/gelu.h"
#include "model/linear.h"

namespace disttune {

Activation parse_activation(const std::string& hidden_act) {
  if (hidden_act == "gelu") return Activation::kGelu;
  if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  if (hidden_act == "relu") return Activation::kRelu;
  DT_FAIL("config.json: hidden_act '", hidden_act, "' is not supported");
}

TransformerLayer TransformerLayer::create(ParameterSet& ps, const std::string& prefix,
                                          const LayerNames& n, int64_t hidden, int64_t inter) {
  TransformerLayer l;
  auto linear = [&](const std::string& module, int64_t out, int64_t in, at::Tensor& w, at::Tensor& b) {
    w = ps.add(prefix + module + ".weight", {out, in});
    b = ps.add(prefix + module + ".bias", {out});
  };
  auto norm = [&](const std::string& module, at::Tensor& w, at::Tensor& b) {
    w = ps.add(prefix + module + ".weight", {hidden});
    b = ps.add(prefix + module + ".bias", {hidden});
  };
  linear(n.q, hidden, hidden, l.q_w, l.q_b);
  linear(n.k, hidden, hidden, l.k_w, l.k_b);
  linear(n.v, hidden, hidden, l.v_w, l.v_b);
  linear(n.o, hidden, hidden, l.o_w, l.o_b);
  norm(n.attention_norm, l.ln1_w, l.ln1_b);
  linear(n.intermediate, inter, hidden, l.ff1_w, l.ff1_b);
  linear(n.output, hidden, inter, l.ff2_w, l.ff2_b);
  norm(n.output_norm, l.ln2_w, l.ln2_b);
  return l;
}

namespace {

// In place when no gradient is needed: one [B, T, intermediate] buffer fewer per layer.
at::Tensor activate(at::Tensor x, Activation act) {
  const bool in_place = !x.requires_grad();
  switch (act) {
    case Activation::kGelu: return gelu_erf(x);  // in place as well where it can be
    case Activation::kGeluTanh: return in_place ? at::gelu_(x, "tanh") : at::gelu(x, "tanh");
    case Activation::kRelu: return in_place ? at::relu_(x) : at::relu(x);
  }
  return x;
}

}  // namespace

MixedStates TransformerLayer::forward(const MixedStates& x, const TokenPacking& packing,
                                      const LayerRuntime& rt) const {
  // One GEMM for Q, K and V: the weight concatenation is 3 H^2 copies, far below the
  // B T H^2 multiply-adds it merges.
  const at::Tensor qkv = linear(x.product_input(), at::cat({q_w, k_w, v_w}), at::cat({q_b, k_b, v_b}));
  const at::Tensor ctx = packing.attend(qkv, [&](const at::Tensor& group, const AttentionBias& bias) {
    return attention_qkv(group, rt.num_heads, bias, rt.attention_dropout);
  });
  return finish(ctx, x.full, rt);
}

at::Tensor TransformerLayer::forward_first(const MixedStates& x, const TokenPacking& packing,
                                           const AttentionBias& bias, const LayerRuntime& rt) const {
  const int64_t H = x.full.size(-1), heads = rt.num_heads, d = H / heads;
  // K and V side by side in one product, then in the padded [B, T, 2H] layout: padding
  // positions hold zeros, which the padding bias keeps out of every softmax.
  const at::Tensor kv = packing.unpack(linear(x.product_input(), at::cat({k_w, v_w}), at::cat({k_b, v_b})));
  const int64_t B = kv.size(0), T = kv.size(1);
  const at::Tensor x0 = packing.first(x.full);
  const at::Tensor q0 = x.low.defined() ? packing.first(x.low) : x0;
  const at::Tensor q = linear(q0, q_w, q_b).view({B, 1, heads, d}).transpose(1, 2);  // [B, heads, 1, d]
  const at::Tensor k_v = kv.view({B, T, 2, heads, d}).permute({2, 0, 3, 1, 4});      // [2, B, heads, T, d]
  const AttentionBias row0 = make_attention_bias(
      bias.padding, bias.position.defined() ? bias.position.narrow(-2, 0, 1) : at::Tensor());
  const at::Tensor ctx = attention(q, k_v[0], k_v[1], row0, rt.attention_dropout);  // [B, heads, 1, d]
  return finish(ctx.transpose(1, 2).reshape({B, H}), x0, rt).full;
}

std::vector<at::Tensor> TransformerLayer::parameters() const {
  return {q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln1_w, ln1_b, ff1_w, ff1_b, ff2_w, ff2_b, ln2_w, ln2_b};
}

MixedStates TransformerLayer::finish(const at::Tensor& ctx, const at::Tensor& x, const LayerRuntime& rt) const {
  const MixedStates a = add_layer_norm(dropout(linear(ctx, o_w, o_b), rt.hidden_dropout), x, ln1_w, ln1_b, rt.eps);
  const at::Tensor h = activate(linear(a.product_input(), ff1_w, ff1_b), rt.act);
  return add_layer_norm(dropout(linear(h, ff2_w, ff2_b), rt.hidden_dropout), a.full, ln2_w, ln2_b, rt.eps);
}

at::Tensor run_layers(const std::vector<TransformerLayer>& layers, at::Tensor x, const TokenPacking& packing,
                      const LayerRuntime& rt, const at::Tensor& attention_mask, bool first_only,
                      const std::function<AttentionBias(const at::Tensor& mask)>& batch_bias,
                      const std::vector<int64_t>& prior, std::vector<at::Tensor>* prior_states) {
  DT_CHECK(prior.empty() || (prior_states != nullptr && std::is_sorted(prior.begin(), prior.end()) &&
                             prior.front() >= 0 && prior.back() < static_cast<int64_t>(layers.size())),
           "run_layers: prior layers must be ascending and below the ", layers.size(), " layers");
  // A row whose position 0 is padding (left padding, an empty row) has a state there only in
  // the padded layout: such batches take the full last layer.
  first_only = first_only && !layers.empty() && attention_mask.size(0) > 0 &&
               attention_mask.select(1, 0).ne(0).all().item<bool>();
  const size_t full = layers.size() - (first_only ? 1 : 0);
  MixedStates states{std::move(x), at::Tensor()};
  auto next = prior.begin();
  // Checkpointed layers hand on float32 states alone: under CPU autocast the next layer's
  // product casts them, the values add_layer_norm's bf16 copy would have held.
  const bool checkpoint = rt.checkpoint && at::GradMode::is_enabled();
  for (size_t i = 0; i < layers.size(); ++i) {
    if (next != prior.end() && *next == static_cast<int64_t>(i)) {
      prior_states->push_back(packing.unpack(states.full));
      ++next;
    }
    if (i >= full) continue;
    if (!checkpoint) {
      states = layers[i].forward(states, packing, rt);
      continue;
    }
    // The parameters (leaves: read from the layer) and the biases that carry gradient (read
    // from the captured list, which backward fills with stand-ins).
    std::vector<at::Tensor> captured = layers[i].parameters();
    const size_t params = captured.size();
    for (const at::Tensor& b : packing.differentiable_biases()) captured.push_back(b);
    const TransformerLayer& layer = layers[i];
    const auto f = [&layer, packing, rt, params](const at::Tensor& x, const std::vector<at::Tensor>& c) {
      const TokenPacking p = packing.with_differentiable_biases({c.begin() + static_cast<int64_t>(params), c.end()});
      return layer.forward(MixedStates{x, at::Tensor()}, p, rt).full;
    };
    states = MixedStates{checkpointed(f, states.full, captured), at::Tensor()};
  }
  if (first_only) return layers.back().forward_first(states, packing, batch_bias(attention_mask), rt).unsqueeze(1);
  return packing.unpack(states.full);
}

}  // namespace disttune
