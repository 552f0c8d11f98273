// EncoderConfig: the Hugging Face config.json of a BERT-family encoder (BertModel, which
// also covers MiniLM, bge and e5, and MPNetModel). Unknown keys are kept and written back
// unchanged; missing keys take the Hugging Face defaults of the architecture.
#pragma once

#include <cstdint>
#include <string>

#include "model/json_file.h"

namespace disttune {

struct EncoderConfig {
  std::string architecture;  // "bert" | "mpnet"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 0;                 // bert only
  int64_t relative_attention_num_buckets = 0;  // mpnet only
  int64_t pad_token_id = 0;
  std::string hidden_act = "gelu";  // gelu | gelu_new | gelu_pytorch_tanh | relu
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  double initializer_range = 0.02;
  Json raw = Json::object();  // the file as read, for writing back unknown keys

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Longest input the position embeddings allow (MPNet reserves padding_idx + 1 rows).
  int64_t max_tokens() const;
};

// Parses config.json text already read as JSON; `file` names it in errors. Throws UserError
// for unknown architectures ("model_type 'roberta' ... is not supported") and bad values.
EncoderConfig parse_encoder_config(const Json& j, const std::string& file);
EncoderConfig read_encoder_config(const std::string& path);

// config.json for `c`: the raw keys it was read with, updated with every field above.
Json encoder_config_json(const EncoderConfig& c);

// A BERT config of the given size with Hugging Face BertConfig defaults elsewhere.
EncoderConfig bert_config(int64_t vocab_size, int64_t hidden_size, int64_t num_layers,
                          int64_t num_heads, int64_t intermediate_size, int64_t max_position,
                          int64_t pad_token_id);

}  // namespace disttune
