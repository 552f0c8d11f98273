// One post-LayerNorm transformer encoder layer as BERT and MPNet define it:
//   a = LayerNorm(x + dropout(O(attention(Q x, K x, V x))))
//   y = LayerNorm(a + dropout(W2 act(W1 a)))
// The architectures differ only in parameter names, which their encoders register.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/add_layer_norm.h"
#include "model/attention.h"
#include "model/parameter_set.h"
#include "model/token_packing.h"

namespace disttune {

enum class Activation { kGelu, kGeluTanh, kRelu };
Activation parse_activation(const std::string& hidden_act);  // config.json hidden_act

struct LayerRuntime {
  int64_t num_heads = 1;
  double eps = 1e-12;
  Activation act = Activation::kGelu;
  double hidden_dropout = 0;     // applied only when > 0 (training)
  double attention_dropout = 0;
  bool checkpoint = false;  // run_layers: gradient checkpointing (model/checkpoint.h) of each layer
};

// Names of a layer's parameters relative to its prefix ("encoder.layer.3.").
struct LayerNames {
  std::string q, k, v, o, attention_norm, intermediate, output, output_norm;  // module names
};

struct TransformerLayer {
  at::Tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
  at::Tensor ln1_w, ln1_b, ff1_w, ff1_b, ff2_w, ff2_b, ln2_w, ln2_b;

  // Registers the parameters in Hugging Face order under prefix + names.
  static TransformerLayer create(ParameterSet& ps, const std::string& prefix,
                                 const LayerNames& names, int64_t hidden, int64_t intermediate);

  // x: [B, T, H] -> [B, T, H], or, when `packing` is active, its real tokens [N, H] -> [N, H].
  // The attention biases come with the packing (TokenPacking::make_biases). x.low, when
  // defined, is what the Q/K/V product reads (x.full's bf16 copy under CPU autocast).
  MixedStates forward(const MixedStates& x, const TokenPacking& packing, const LayerRuntime& rt) const;
  // The 16 parameters, for gradient checkpointing.
  std::vector<at::Tensor> parameters() const;

  // The output at position 0 of every row only: x as forward() takes it -> [B, H]. K and V
  // are projected for every token (position 0 attends to them all); Q, the attention
  // scores, the output projection and the feed-forward run for the B first tokens alone.
  // `bias`: the whole batch's biases ([B, 1, 1, T] padding, [., heads, T, T] position).
  // Every row's position 0 must be a token.
  at::Tensor forward_first(const MixedStates& x, const TokenPacking& packing, const AttentionBias& bias,
                           const LayerRuntime& rt) const;

 private:
  // From the attention context to the layer's output: output projection, residual with x,
  // LayerNorm, feed-forward, residual, LayerNorm (each residual + LayerNorm one
  // add_layer_norm).
  MixedStates finish(const at::Tensor& ctx, const at::Tensor& x, const LayerRuntime& rt) const;
};

// An encoder's layers over x (in `packing`'s layout) -> [B, T, H] states (zeros at packed-out
// padding). With `first_only` (the caller reads position 0 alone, as CLS pooling does) and
// every row's position 0 a token, the last layer runs forward_first and the result is
// [B, 1, H]: for a 12-layer BERT ~7% of the forward's FLOPs are never spent. `batch_bias`
// builds the whole batch's attention biases from its [B, T] mask (what make_biases gets).
// The states entering the layers `prior` names (ascending; 0 is x itself) are appended to
// *prior_states as [B, T, H].
at::Tensor run_layers(const std::vector<TransformerLayer>& layers, at::Tensor x, const TokenPacking& packing,
                      const LayerRuntime& rt, const at::Tensor& attention_mask, bool first_only,
                      const std::function<AttentionBias(const at::Tensor& mask)>& batch_bias,
                      const std::vector<int64_t>& prior = {}, std::vector<at::Tensor>* prior_states = nullptr);

}  // namespace disttune
