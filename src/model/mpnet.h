// MPNetModel as Hugging Face defines it (all-mpnet-base-v2): no token types; position ids
// count the non-padding tokens (cumsum(ids != 1) * (ids != 1) + 1, with Hugging Face's fixed
// padding_idx 1); a relative position bias (encoder.relative_attention_bias.weight,
// [buckets, heads], T5-style bidirectional buckets: 32, max distance 128) computed once per
// forward and added to every layer's attention scores. Layer names:
// encoder.layer.N.attention.attn.{q,k,v,o}.*, encoder.layer.N.attention.LayerNorm.*,
// encoder.layer.N.intermediate.dense.*, encoder.layer.N.output.{dense,LayerNorm}.*.
#pragma once

#include <vector>

#include "model/encoder.h"
#include "model/transformer_layer.h"

namespace disttune {

// Bucket of the relative position key - query (Hugging Face MPNet / T5 bidirectional rule).
int64_t relative_position_bucket(int64_t relative_position, int64_t num_buckets = 32,
                                 int64_t max_distance = 128);

class MpnetEncoder : public Encoder {
 public:
  // Hugging Face MPNetEmbeddings fixes padding_idx at 1 whatever config.json says.
  static constexpr int64_t kPaddingIdx = 1;

  MpnetEncoder(const EncoderConfig& config, const EncoderExtras& extras);
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const EncoderRuntime& rt) const override;

  std::set<std::string> ignorable() const override { return {"embeddings.position_ids"}; }

  // [1, heads, T, T] bias shared by every layer.
  at::Tensor position_bias(int64_t T) const;

 protected:
  std::vector<std::pair<std::string, int64_t>> padded_embeddings() const override;

 private:
  at::Tensor word_, position_, ln_w_, ln_b_, relative_bias_;
  std::vector<TransformerLayer> layers_;
  LayerRuntime layer_rt_;
};

}  // namespace disttune
