#include "model/model_dir.h"

#include <filesystem>
#include <vector>

#include "common/env.h"

namespace fs = std::filesystem;

namespace disttune {
namespace {

std::string join(const std::string& dir, const std::string& rel) {
  if (rel.empty()) return dir;
  return (fs::path(dir) / rel).string();
}

std::string module_kind(const std::string& type) {
  const auto dot = type.rfind('.');
  return dot == std::string::npos ? type : type.substr(dot + 1);
}

// Explains why a directory without model.safetensors cannot be loaded.
[[noreturn]] void fail_no_weights(const std::string& dir) {
  std::vector<std::string> pickles;
  bool sharded = false;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const std::string ext = e.path().extension().string();
    if (name == "model.safetensors.index.json") sharded = true;
    if (ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".ckpt" || ext == ".pkl" ||
        ext == ".pickle")
      pickles.push_back(name);
  }
  if (sharded)
    DT_FAIL(dir, ": the weights are sharded (model.safetensors.index.json); disttune reads a "
                 "single model.safetensors: save the model unsharded");
  if (!pickles.empty())
    DT_FAIL(dir, ": has ", pickles[0], " but no model.safetensors; disttune never reads pickle "
                 "files (loading one can run arbitrary code). Convert the weights once to "
                 "safetensors (for example save_pretrained(..., safe_serialization=True)).");
  DT_FAIL(dir, ": no model.safetensors: not a model directory with weights");
}

void read_modules(const std::string& dir, ModelDir& m, std::string* pooling_dir) {
  const std::string path = join(dir, "modules.json");
  const Json mods = read_json_file(path);
  DT_REQUIRE(mods.is_array(), path, ": expected a JSON array of modules");
  std::vector<std::string> kinds;
  for (size_t i = 0; i < mods.size(); ++i) {
    const std::string where = str_cat(path, " [", i, "]");
    JsonObject o(mods[i], where);
    const std::string type = o.get_string("type", "");
    const std::string rel = o.get_string("path", "");
    const std::string kind = module_kind(type);
    const size_t pos = kinds.size();
    if (kind == "Transformer" && pos == 0) {
      m.transformer_dir = join(dir, rel);
    } else if (kind == "Pooling" && pos == 1) {
      *pooling_dir = join(dir, rel);
    } else if (kind == "Normalize" && pos == 2) {
      m.normalize = true;
    } else if (kind == "Transformer" || kind == "Pooling" || kind == "Normalize") {
      DT_FAIL(where, ": module ", type, " out of place; disttune runs Transformer -> Pooling "
                     "[-> Normalize] in that order");
    } else {
      DT_FAIL(where, ": module '", type, "' (path '", rel, "') is not supported; disttune runs "
                     "Transformer -> Pooling [-> Normalize]");
    }
    kinds.push_back(kind);
  }
  DT_REQUIRE(kinds.size() >= 2, path, ": expected a Transformer and a Pooling module, found ",
             kinds.size(), " module(s)");
}

void read_pooling(const std::string& pooling_dir, ModelDir& m) {
  const std::string path = join(pooling_dir, "config.json");
  const Json j = read_json_file(path);
  JsonObject o(j, path);
  static const std::pair<const char*, const char*> kModes[] = {
      {"pooling_mode_cls_token", "cls"},
      {"pooling_mode_mean_tokens", "mean"},
      {"pooling_mode_max_tokens", "max"},
      {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"},
      {"pooling_mode_lasttoken", "lasttoken"},
      {"pooling_mode_weightedmean_tokens", "weightedmean"},
  };
  std::vector<std::string> on;
  for (const auto& [key, mode] : kModes)
    if (o.get_bool(key, false)) on.push_back(mode);
  DT_REQUIRE(!on.empty(), path, ": no pooling_mode_* flag is true; expected exactly one of "
                                "cls, mean, max, mean_sqrt_len, lasttoken");
  if (on.size() > 1)
    DT_FAIL(path, ": pooling modes ", on[0], " and ", on[1],
            " are both on; disttune supports exactly one pooling mode");
  if (on[0] == "weightedmean")
    o.fail("pooling_mode_weightedmean_tokens", "weighted-mean pooling is not supported "
                                               "(cls, mean, max, mean_sqrt_len, lasttoken are)");
  m.pooling = on[0];
  m.include_prompt = o.get_bool("include_prompt", true);
  if (!m.include_prompt)
    o.fail("include_prompt", "false (pooling that skips the prompt tokens) is not supported");
  const int64_t dim = o.get_int("word_embedding_dimension", m.encoder.hidden_size);
  if (dim != m.encoder.hidden_size)
    o.fail("word_embedding_dimension", str_cat(dim, " differs from the encoder's hidden_size ",
                                               m.encoder.hidden_size));
}

void read_st_config(const std::string& path, ModelDir& m) {
  m.st_config = read_json_file(path);
  JsonObject o(m.st_config, path);
  if (o.has("prompts")) {
    const Json& p = o.json().at("prompts");
    if (!p.is_object()) o.fail("prompts", "expected an object of name -> prefix strings");
    for (auto it = p.begin(); it != p.end(); ++it) {
      if (!it->is_string()) o.fail("prompts", str_cat("prompt \"", it.key(), "\" must be a string"));
      m.prompts[it.key()] = it->get<std::string>();
    }
  }
  m.default_prompt_name = o.get_string("default_prompt_name", "");
  if (!m.default_prompt_name.empty() && !m.prompts.count(m.default_prompt_name))
    o.fail("default_prompt_name", str_cat("'", m.default_prompt_name, "' is not one of the prompts"));
  m.similarity_fn_name = o.get_string("similarity_fn_name", "");
  const std::string& s = m.similarity_fn_name;
  if (!s.empty() && s != "cosine" && s != "dot" && s != "euclidean" && s != "manhattan")
    o.fail("similarity_fn_name", str_cat("'", s, "' is not one of cosine, dot, euclidean, manhattan"));
}

}  // namespace

ModelDir read_model_dir(const std::string& dir) {
  DT_REQUIRE(fs::is_directory(dir), dir, ": not a directory");
  ModelDir m;
  m.dir = dir;
  m.transformer_dir = dir;
  std::string pooling_dir;
  const bool st_layout = fs::exists(join(dir, "modules.json"));
  if (st_layout) read_modules(dir, m, &pooling_dir);

  const std::string config_path = join(m.transformer_dir, "config.json");
  DT_REQUIRE(fs::exists(config_path), m.transformer_dir,
             ": no config.json: not a Hugging Face or sentence-transformers model directory");
  m.encoder = read_encoder_config(config_path);
  m.weights_path = join(m.transformer_dir, "model.safetensors");
  if (!fs::exists(m.weights_path)) fail_no_weights(m.transformer_dir);

  if (st_layout) read_pooling(pooling_dir, m);  // else: mean pooling, as sentence-transformers

  const std::string sbert = join(m.transformer_dir, "sentence_bert_config.json");
  if (fs::exists(sbert)) {
    const Json j = read_json_file(sbert);
    JsonObject o(j, sbert);
    const int64_t len = o.get_int("max_seq_length", 0);
    if (len < 0 || len > m.encoder.max_tokens())
      o.fail("max_seq_length", str_cat(len, " is outside 1..", m.encoder.max_tokens(),
                                       " (the model's position embeddings)"));
    m.max_seq_length = static_cast<int>(len);
    m.do_lower_case = o.get_bool("do_lower_case", false);
  }
  const std::string st_config = join(dir, "config_sentence_transformers.json");
  if (fs::exists(st_config)) read_st_config(st_config, m);
  return m;
}

Json pooling_config_json(const std::string& mode, int64_t dimension, bool include_prompt) {
  Json j = Json::object();
  j["word_embedding_dimension"] = dimension;
  j["pooling_mode_cls_token"] = mode == "cls";
  j["pooling_mode_mean_tokens"] = mode == "mean";
  j["pooling_mode_max_tokens"] = mode == "max";
  j["pooling_mode_mean_sqrt_len_tokens"] = mode == "mean_sqrt_len";
  j["pooling_mode_weightedmean_tokens"] = false;
  j["pooling_mode_lasttoken"] = mode == "lasttoken";
  j["include_prompt"] = include_prompt;
  return j;
}

Status write_model_dir_configs(const std::string& out_dir, const ModelDir& m, Env* env) {
  if (!env) env = Env::Default();
  DT_RETURN_IF_ERROR(env->make_dirs(join(out_dir, "1_Pooling")));
  DT_RETURN_IF_ERROR(write_json_file(join(out_dir, "config.json"), encoder_config_json(m.encoder), env));

  Json modules = Json::array();
  auto module = [&](int idx, const std::string& path, const std::string& type) {
    Json e = Json::object();
    e["idx"] = idx;
    e["name"] = std::to_string(idx);
    e["path"] = path;
    e["type"] = "sentence_transformers.models." + type;
    modules.push_back(e);
  };
  module(0, "", "Transformer");
  module(1, "1_Pooling", "Pooling");
  if (m.normalize) {
    module(2, "2_Normalize", "Normalize");
    DT_RETURN_IF_ERROR(env->make_dirs(join(out_dir, "2_Normalize")));
  }
  DT_RETURN_IF_ERROR(write_json_file(join(out_dir, "modules.json"), modules, env));

  Json sbert = Json::object();
  sbert["max_seq_length"] = m.max_seq_length;
  sbert["do_lower_case"] = m.do_lower_case;
  DT_RETURN_IF_ERROR(write_json_file(join(out_dir, "sentence_bert_config.json"), sbert, env));

  DT_RETURN_IF_ERROR(write_json_file(join(out_dir, "1_Pooling/config.json"),
                                     pooling_config_json(m.pooling, m.encoder.hidden_size,
                                                         m.include_prompt),
                                     env));

  Json st = m.st_config.is_object() ? m.st_config : Json::object();
  if (!st.contains("__version__")) st["__version__"] = {{"disttune", DISTTUNE_VERSION}};
  Json prompts = Json::object();
  for (const auto& [name, text] : m.prompts) prompts[name] = text;
  st["prompts"] = prompts;
  st["default_prompt_name"] = m.default_prompt_name.empty() ? Json() : Json(m.default_prompt_name);
  st["similarity_fn_name"] = m.similarity_fn_name.empty() ? Json() : Json(m.similarity_fn_name);
  return write_json_file(join(out_dir, "config_sentence_transformers.json"), st, env);
}

}  // namespace disttune
