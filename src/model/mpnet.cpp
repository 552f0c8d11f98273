#include "model/mpnet.h"

#include <cmath>
#include <cstdlib>

#include "common/check.h"
#include "model/dropout.h"
#include "model/embedding.h"

namespace disttune {

int64_t relative_position_bucket(int64_t relative_position, int64_t num_buckets,
                                 int64_t max_distance) {
  // Half of the buckets for keys before the query, half for keys after; within a half,
  // exact buckets for distances below half/2, then logarithmic up to max_distance.
  const int64_t half = num_buckets / 2;
  const int64_t offset = relative_position > 0 ? half : 0;
  const int64_t n = std::llabs(relative_position);
  const int64_t exact = half / 2;
  if (n < exact) return offset + n;
  // Hugging Face evaluates this in float32; for every distance below max_distance (beyond
  // it the bucket saturates) the double evaluation truncates to the same integer.
  const int64_t large = exact + static_cast<int64_t>(std::log(static_cast<double>(n) / exact) /
                                                     std::log(static_cast<double>(max_distance) / exact) *
                                                     (half - exact));
  return offset + std::min(large, half - 1);
}

MpnetEncoder::MpnetEncoder(const EncoderConfig& c, const EncoderExtras& extras) : Encoder(c) {
  DT_CHECK(c.architecture == "mpnet", "MpnetEncoder built from a ", c.architecture, " config");
  const int64_t H = c.hidden_size;
  word_ = state_.add("embeddings.word_embeddings.weight", {c.vocab_size, H});
  position_ = state_.add("embeddings.position_embeddings.weight", {c.max_position_embeddings, H});
  ln_w_ = state_.add("embeddings.LayerNorm.weight", {H});
  ln_b_ = state_.add("embeddings.LayerNorm.bias", {H});
  const LayerNames names{"attention.attn.q", "attention.attn.k", "attention.attn.v",
                         "attention.attn.o", "attention.LayerNorm", "intermediate.dense",
                         "output.dense", "output.LayerNorm"};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layers_.push_back(TransformerLayer::create(state_, str_cat("encoder.layer.", i, "."), names,
                                               H, c.intermediate_size));
  relative_bias_ = state_.add("encoder.relative_attention_bias.weight",
                              {c.relative_attention_num_buckets, c.num_attention_heads});
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

std::vector<std::pair<std::string, int64_t>> MpnetEncoder::padded_embeddings() const {
  return {{"embeddings.word_embeddings.weight", kPaddingIdx},
          {"embeddings.position_embeddings.weight", kPaddingIdx}};
}

at::Tensor MpnetEncoder::position_bias(int64_t T) const {
  // Buckets depend only on key - query in [-(T-1), T-1]: 2T-1 scalar evaluations.
  std::vector<int64_t> by_offset(2 * T - 1);
  for (int64_t r = -(T - 1); r <= T - 1; ++r) by_offset[r + T - 1] = relative_position_bucket(r);
  std::vector<int64_t> table(T * T);
  for (int64_t q = 0; q < T; ++q)
    for (int64_t k = 0; k < T; ++k) table[q * T + k] = by_offset[k - q + T - 1];
  at::Tensor buckets = at::tensor(table, at::kLong).view({T, T});
  buckets = buckets.to(relative_bias_.device());
  // [T, T, heads] -> [1, heads, T, T]
  return at::embedding(relative_bias_, buckets).permute({2, 0, 1}).unsqueeze(0);
}

at::Tensor MpnetEncoder::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                 const EncoderRuntime& rt) const {
  const int64_t T = input_ids.size(1), H = config_.hidden_size;
  DT_REQUIRE(T <= config_.max_tokens(), "input of ", T, " tokens exceeds what the model's ",
             config_.max_position_embeddings, " position embeddings allow (", config_.max_tokens(), ")");
  // Hugging Face derives MPNet positions from the ids, not from the attention mask.
  at::Tensor not_pad = input_ids.ne(kPaddingIdx).to(at::kLong);
  at::Tensor position_ids = at::cumsum(not_pad, 1).mul_(not_pad).add_(kPaddingIdx);
  TokenPacking packing = TokenPacking::plan(attention_mask, rt.pack_tokens);
  at::Tensor x = embedding_lookup(word_, packing.pack(input_ids), kPaddingIdx)
                     .add_(embedding_lookup(position_, packing.pack(position_ids), kPaddingIdx));
  x = dropout(at::layer_norm(x, {H}, ln_w_, ln_b_, config_.layer_norm_eps), rt.hidden_dropout);

  // A group's rows keep their positions 0..length-1, so its relative position bias is the
  // top-left corner of the batch's.
  const at::ScalarType dtype = x.scalar_type();
  const at::Tensor position = position_bias(T).to(dtype);
  const auto biases = [&](const at::Tensor& mask) {
    const int64_t L = mask.size(1);
    return make_attention_bias(padding_bias(mask, dtype), position.narrow(2, 0, L).narrow(3, 0, L));
  };
  packing.make_biases(biases);
  LayerRuntime lrt = layer_rt_;
  lrt.hidden_dropout = rt.hidden_dropout;
  lrt.attention_dropout = rt.attention_dropout;
  lrt.checkpoint = rt.checkpoint;
  return run_layers(layers_, x, packing, lrt, attention_mask, rt.first_token_only, biases, rt.prior_layers,
                    rt.prior_states);
}

}  // namespace disttune
