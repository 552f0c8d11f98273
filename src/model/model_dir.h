// ModelDir: the sentence-transformers directory layout around an encoder.
//   config.json                       the Hugging Face encoder config (EncoderConfig)
//   model.safetensors                 weights (never pytorch_model.bin: pickle is refused)
//   vocab.txt / tokenizer.json, tokenizer_config.json, special_tokens_map.json
//   modules.json                      Transformer -> Pooling [-> Normalize]
//   sentence_bert_config.json         max_seq_length, do_lower_case
//   1_Pooling/config.json             pooling_mode_* flags
//   2_Normalize/                      present when embeddings are L2-normalised
//   config_sentence_transformers.json prompts, default_prompt_name, similarity_fn_name
// A plain Hugging Face directory (no modules.json) loads as sentence-transformers does:
// mean pooling, no normalisation.
#pragma once

#include <map>
#include <string>

#include "model/encoder_config.h"

namespace disttune {

class Env;

struct ModelDir {
  std::string dir;              // as given
  std::string transformer_dir;  // where config.json, weights and tokenizer files live
  std::string weights_path;     // transformer_dir/model.safetensors
  EncoderConfig encoder;
  std::string pooling = "mean";  // mean | cls | max | lasttoken | mean_sqrt_len
  bool include_prompt = true;
  bool normalize = false;
  int max_seq_length = 0;  // 0: not given
  bool do_lower_case = false;
  std::map<std::string, std::string> prompts;  // e.g. {"query": "query: "}
  std::string default_prompt_name;
  std::string similarity_fn_name;  // "" when not given
  Json st_config = Json::object();  // config_sentence_transformers.json as read
};

// Parses every configuration file of `dir` and checks that model.safetensors exists.
// Throws UserError naming the file and key on anything disttune cannot run exactly.
ModelDir read_model_dir(const std::string& dir);

// Writes the JSON files of `m` into `out_dir` (config.json, modules.json,
// sentence_bert_config.json, 1_Pooling/config.json, 2_Normalize/ when normalising,
// config_sentence_transformers.json), each atomically. Weights and tokenizer files are the
// caller's. Returns the first error.
Status write_model_dir_configs(const std::string& out_dir, const ModelDir& m, Env* env = nullptr);

// sentence-transformers' 1_Pooling/config.json for a mode and dimension.
Json pooling_config_json(const std::string& mode, int64_t dimension, bool include_prompt = true);

}  // namespace disttune
