#include "model/bert.h"

#include "common/check.h"
#include "model/dropout.h"
#include "model/embedding.h"

namespace disttune {

BertEncoder::BertEncoder(const EncoderConfig& c, const EncoderExtras& extras) : Encoder(c) {
  DT_CHECK(c.architecture == "bert", "BertEncoder built from a ", c.architecture, " config");
  const int64_t H = c.hidden_size;
  word_ = state_.add("embeddings.word_embeddings.weight", {c.vocab_size, H});
  position_ = state_.add("embeddings.position_embeddings.weight", {c.max_position_embeddings, H});
  token_type_ = state_.add("embeddings.token_type_embeddings.weight", {c.type_vocab_size, H});
  ln_w_ = state_.add("embeddings.LayerNorm.weight", {H});
  ln_b_ = state_.add("embeddings.LayerNorm.bias", {H});
  const LayerNames names{"attention.self.query", "attention.self.key", "attention.self.value",
                         "attention.output.dense", "attention.output.LayerNorm",
                         "intermediate.dense", "output.dense", "output.LayerNorm"};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layers_.push_back(TransformerLayer::create(state_, str_cat("encoder.layer.", i, "."), names,
                                               H, c.intermediate_size));
  if (extras.pooler) {
    state_.add("pooler.dense.weight", {H, H});
    state_.add("pooler.dense.bias", {H});
  }
  if (extras.position_ids)
    state_.add_buffer("embeddings.position_ids",
                      at::arange(c.max_position_embeddings, at::kLong).unsqueeze(0));
  layer_rt_.num_heads = c.num_attention_heads;
  layer_rt_.eps = c.layer_norm_eps;
  layer_rt_.act = parse_activation(c.hidden_act);
}

std::vector<std::pair<std::string, int64_t>> BertEncoder::padded_embeddings() const {
  return {{"embeddings.word_embeddings.weight", config_.pad_token_id}};
}

at::Tensor BertEncoder::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                const EncoderRuntime& rt) const {
  const int64_t T = input_ids.size(1), H = config_.hidden_size;
  DT_REQUIRE(T <= config_.max_position_embeddings, "input of ", T,
             " tokens exceeds the model's max_position_embeddings (", config_.max_position_embeddings, ")");
  TokenPacking packing = TokenPacking::plan(attention_mask, rt.pack_tokens);
  // Token type 0 everywhere (sentence-transformers passes none): one row, broadcast.
  at::Tensor positional = position_.narrow(0, 0, T) + token_type_[0];
  if (packing.active()) positional = positional.index_select(0, packing.index().remainder(T));
  at::Tensor x = embedding_lookup(word_, packing.pack(input_ids), config_.pad_token_id).add_(positional);
  x = dropout(at::layer_norm(x, {H}, ln_w_, ln_b_, config_.layer_norm_eps), rt.hidden_dropout);

  const at::ScalarType dtype = x.scalar_type();
  const auto biases = [&](const at::Tensor& mask) { return make_attention_bias(padding_bias(mask, dtype)); };
  packing.make_biases(biases);
  LayerRuntime lrt = layer_rt_;
  lrt.hidden_dropout = rt.hidden_dropout;
  lrt.attention_dropout = rt.attention_dropout;
  lrt.checkpoint = rt.checkpoint;
  return run_layers(layers_, x, packing, lrt, attention_mask, rt.first_token_only, biases, rt.prior_layers,
                    rt.prior_states);
}

}  // namespace disttune
