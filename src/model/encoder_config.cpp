#include "model/encoder_config.h"

namespace disttune {
namespace {

std::string architecture_names(const Json& j) {
  auto it = j.find("architectures");
  if (it == j.end() || !it->is_array()) return "none listed";
  std::string out;
  for (const auto& a : *it) out += (out.empty() ? "" : ", ") + (a.is_string() ? a.get<std::string>() : a.dump());
  return out.empty() ? "none listed" : out;
}

std::string detect_architecture(const JsonObject& o) {
  std::string type = o.get_string("model_type", "");
  if (type.empty()) {
    // Very old configs carry only "architectures".
    auto it = o.json().find("architectures");
    if (it != o.json().end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
      const std::string a = (*it)[0].get<std::string>();
      if (a.rfind("Bert", 0) == 0) type = "bert";
      else if (a.rfind("MPNet", 0) == 0) type = "mpnet";
      else type = a;
    }
  }
  if (type == "bert" || type == "mpnet") return type;
  DT_FAIL(o.file(), ": model_type '", type.empty() ? "(missing)" : type, "' (architectures: ",
          architecture_names(o.json()),
          ") is not supported; disttune runs BERT-family models (model_type \"bert\": BertModel, "
          "MiniLM, bge, e5) and MPNet (model_type \"mpnet\")");
}

}  // namespace

int64_t EncoderConfig::max_tokens() const {
  // MPNet position ids start at padding_idx + 1 = 2 (Hugging Face hard-codes padding_idx 1).
  return architecture == "mpnet" ? max_position_embeddings - 2 : max_position_embeddings;
}

EncoderConfig parse_encoder_config(const Json& j, const std::string& file) {
  JsonObject o(j, file);
  EncoderConfig c;
  c.raw = j;
  c.architecture = detect_architecture(o);
  const bool bert = c.architecture == "bert";
  c.vocab_size = o.get_int("vocab_size", bert ? 30522 : 30527);
  c.hidden_size = o.get_int("hidden_size", 768);
  c.num_hidden_layers = o.get_int("num_hidden_layers", 12);
  c.num_attention_heads = o.get_int("num_attention_heads", 12);
  c.intermediate_size = o.get_int("intermediate_size", 3072);
  c.max_position_embeddings = o.get_int("max_position_embeddings", bert ? 512 : 514);
  c.type_vocab_size = bert ? o.get_int("type_vocab_size", 2) : 0;
  c.relative_attention_num_buckets = bert ? 0 : o.get_int("relative_attention_num_buckets", 32);
  c.pad_token_id = o.get_int("pad_token_id", bert ? 0 : 1);
  c.hidden_act = o.get_string("hidden_act", "gelu");
  c.layer_norm_eps = o.get_double("layer_norm_eps", 1e-12);
  c.hidden_dropout_prob = o.get_double("hidden_dropout_prob", 0.1);
  c.attention_probs_dropout_prob = o.get_double("attention_probs_dropout_prob", 0.1);
  c.initializer_range = o.get_double("initializer_range", 0.02);

  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) o.fail(key, str_cat("must be positive, got ", v));
  };
  positive("vocab_size", c.vocab_size);
  positive("hidden_size", c.hidden_size);
  // 0 layers is a model of the embeddings alone (model.num_layers: 0), as Hugging Face allows.
  if (c.num_hidden_layers < 0) o.fail("num_hidden_layers", str_cat("must be >= 0, got ", c.num_hidden_layers));
  positive("num_attention_heads", c.num_attention_heads);
  positive("intermediate_size", c.intermediate_size);
  positive("max_position_embeddings", c.max_position_embeddings);
  if (bert) positive("type_vocab_size", c.type_vocab_size);
  if (c.hidden_size % c.num_attention_heads != 0)
    o.fail("num_attention_heads", str_cat(c.num_attention_heads, " does not divide hidden_size ", c.hidden_size));
  if (c.hidden_act != "gelu" && c.hidden_act != "gelu_new" && c.hidden_act != "gelu_pytorch_tanh" &&
      c.hidden_act != "relu")
    o.fail("hidden_act", str_cat("'", c.hidden_act, "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)"));
  if (c.layer_norm_eps <= 0) o.fail("layer_norm_eps", "must be positive");
  for (const auto& [key, p] : {std::pair<const char*, double>{"hidden_dropout_prob", c.hidden_dropout_prob},
                                {"attention_probs_dropout_prob", c.attention_probs_dropout_prob}})
    if (p < 0 || p >= 1) o.fail(key, str_cat("must be in [0, 1), got ", p));
  if (bert) {
    const std::string pos = o.get_string("position_embedding_type", "absolute");
    if (pos != "absolute")
      o.fail("position_embedding_type", str_cat("'", pos, "' is not supported (only \"absolute\")"));
    if (c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size)
      o.fail("pad_token_id", str_cat(c.pad_token_id, " is outside the vocabulary of ", c.vocab_size));
  } else {
    // Hugging Face buckets relative positions into 32 buckets whatever the config says.
    if (c.relative_attention_num_buckets < 32)
      o.fail("relative_attention_num_buckets", str_cat("must be at least 32, got ", c.relative_attention_num_buckets));
    if (c.max_position_embeddings < 3) o.fail("max_position_embeddings", "must be at least 3 for MPNet");
    if (c.vocab_size < 2) o.fail("vocab_size", "MPNet needs the padding id 1 in its vocabulary");
  }
  return c;
}

EncoderConfig read_encoder_config(const std::string& path) {
  return parse_encoder_config(read_json_file(path), path);
}

Json encoder_config_json(const EncoderConfig& c) {
  Json j = c.raw.is_object() ? c.raw : Json::object();
  const bool bert = c.architecture == "bert";
  if (!j.contains("architectures")) j["architectures"] = Json::array({bert ? "BertModel" : "MPNetModel"});
  j["model_type"] = c.architecture;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["intermediate_size"] = c.intermediate_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  if (bert) {
    j["type_vocab_size"] = c.type_vocab_size;
    if (!j.contains("position_embedding_type")) j["position_embedding_type"] = "absolute";
  } else {
    j["relative_attention_num_buckets"] = c.relative_attention_num_buckets;
  }
  j["pad_token_id"] = c.pad_token_id;
  j["hidden_act"] = c.hidden_act;
  j["layer_norm_eps"] = c.layer_norm_eps;
  j["hidden_dropout_prob"] = c.hidden_dropout_prob;
  j["attention_probs_dropout_prob"] = c.attention_probs_dropout_prob;
  j["initializer_range"] = c.initializer_range;
  return j;
}

EncoderConfig bert_config(int64_t vocab_size, int64_t hidden_size, int64_t num_layers,
                          int64_t num_heads, int64_t intermediate_size, int64_t max_position,
                          int64_t pad_token_id) {
  Json j = Json::object();
  j["architectures"] = Json::array({"BertModel"});
  j["model_type"] = "bert";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_layers;
  j["num_attention_heads"] = num_heads;
  j["intermediate_size"] = intermediate_size;
  j["max_position_embeddings"] = max_position;
  j["type_vocab_size"] = 2;
  j["pad_token_id"] = pad_token_id;
  j["hidden_act"] = "gelu";
  j["hidden_dropout_prob"] = 0.1;
  j["attention_probs_dropout_prob"] = 0.1;
  j["layer_norm_eps"] = 1e-12;
  j["initializer_range"] = 0.02;
  j["position_embedding_type"] = "absolute";
  return parse_encoder_config(j, "model.init");
}

}  // namespace disttune
