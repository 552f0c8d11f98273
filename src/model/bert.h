// BertModel as Hugging Face defines it (all-MiniLM-L6-v2, bge-*, e5-*): word + absolute
// position + token-type-0 embeddings, LayerNorm, dropout, then post-LN transformer layers.
// Parameter names: embeddings.{word,position,token_type}_embeddings.weight,
// embeddings.LayerNorm.*, encoder.layer.N.attention.self.{query,key,value}.*,
// encoder.layer.N.attention.output.{dense,LayerNorm}.*, encoder.layer.N.intermediate.dense.*,
// encoder.layer.N.output.{dense,LayerNorm}.*, and pooler.dense.* when the file has it.
#pragma once

#include <vector>

#include "model/encoder.h"
#include "model/transformer_layer.h"

namespace disttune {

class BertEncoder : public Encoder {
 public:
  BertEncoder(const EncoderConfig& config, const EncoderExtras& extras);
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const EncoderRuntime& rt) const override;
  // Buffers some Hugging Face versions save; never used (positions are 0..T-1, types 0).
  std::set<std::string> ignorable() const override {
    return {"embeddings.position_ids", "embeddings.token_type_ids"};
  }

 protected:
  std::vector<std::pair<std::string, int64_t>> padded_embeddings() const override;

 private:
  at::Tensor word_, position_, token_type_, ln_w_, ln_b_;
  std::vector<TransformerLayer> layers_;
  LayerRuntime layer_rt_;
};

}  // namespace disttune
