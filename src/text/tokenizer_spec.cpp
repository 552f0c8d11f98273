#include "text/tokenizer_spec.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>

#include "common/env.h"
#include "common/json_input.h"

namespace disttune::text {
namespace {

using json = nlohmann::json;

// Errors name the file and the key: "DIR/tokenizer.json: key 'model.vocab' must be ...".
Status key_error(const std::string& file, const std::string& key, const std::string& expected,
                 const json* found = nullptr) {
  std::string msg = str_cat(file, ": key '", key, "' ", expected);
  if (found) msg += str_cat(" (found ", found->type_name(), ")");
  return Status::Error(msg);
}

Result<json> read_json(const std::string& path) {
  std::string data;
  DT_RETURN_IF_ERROR(Env::Default()->read_file(path, &data));
  try {
    return parse_json_limited<json>(data);
  } catch (const json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line L, column C: ..."
    // (out_of_range.406 for a number too large for a double).
    std::string what = e.what();
    const size_t p = what.find("] ");
    if (p != std::string::npos) what = what.substr(p + 2);
    return Status::Error(str_cat(path, ": not valid JSON: ", what));
  } catch (const JsonTooDeep& e) {
    return Status::Error(str_cat(path, ": ", e.what()));
  }
}

// A JSON file read only when it exists: null when absent.
Result<json> read_optional_json(const std::string& path) {
  if (!Env::Default()->file_exists(path)) return json();
  Result<json> j = read_json(path);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return Status::Error(str_cat(path, ": expected a JSON object at the top level"));
  return std::move(j).value();
}

// Typed getters: a missing key (or null, where the file format allows it) gives `def`.
Status get_bool(const json& obj, const char* key, const std::string& file, const std::string& path,
                bool def, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    *out = def;
    return Status::OK();
  }
  if (!it->is_boolean()) return key_error(file, path + key, "must be true or false", &*it);
  *out = it->get<bool>();
  return Status::OK();
}

Status get_optional_bool(const json& obj, const char* key, const std::string& file,
                         const std::string& path, std::optional<bool>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    out->reset();
    return Status::OK();
  }
  if (!it->is_boolean()) return key_error(file, path + key, "must be true, false or null", &*it);
  *out = it->get<bool>();
  return Status::OK();
}

Status get_string(const json& obj, const char* key, const std::string& file,
                  const std::string& path, const std::string& def, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    *out = def;
    return Status::OK();
  }
  if (!it->is_string()) return key_error(file, path + key, "must be a string", &*it);
  *out = it->get<std::string>();
  return Status::OK();
}

Status to_id(const json& v, const std::string& file, const std::string& key, int32_t* out) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
    return key_error(file, key, "must be a token id (an integer >= 0)", v.is_number() ? nullptr : &v);
  *out = static_cast<int32_t>(v.get<int64_t>());
  return Status::OK();
}

// A special token in tokenizer_config.json / special_tokens_map.json: "[CLS]" or
// {"content": "[CLS]", "lstrip": ..., ...}.
struct SpecialToken {
  std::string content;
  bool lstrip = false, rstrip = false, single_word = false;
};

Status parse_special(const json& v, const std::string& file, const std::string& key,
                     std::optional<SpecialToken>* out) {
  if (v.is_null()) {
    out->reset();
    return Status::OK();
  }
  SpecialToken t;
  if (v.is_string()) {
    t.content = v.get<std::string>();
  } else if (v.is_object()) {
    const std::string p = key + ".";
    DT_RETURN_IF_ERROR(get_string(v, "content", file, p, "", &t.content));
    if (t.content.empty()) return key_error(file, key + ".content", "must be a non-empty string");
    DT_RETURN_IF_ERROR(get_bool(v, "lstrip", file, p, false, &t.lstrip));
    DT_RETURN_IF_ERROR(get_bool(v, "rstrip", file, p, false, &t.rstrip));
    DT_RETURN_IF_ERROR(get_bool(v, "single_word", file, p, false, &t.single_word));
  } else {
    return key_error(file, key, "must be a token string or an object with \"content\"", &v);
  }
  *out = t;
  return Status::OK();
}

// What the config files say about the tokenizer (each key optional).
struct TokenizerConfig {
  bool present = false;  // tokenizer_config.json exists
  std::string tokenizer_class;
  bool do_lower_case = true;
  std::optional<bool> strip_accents;
  bool tokenize_chinese_chars = true;
  std::map<std::string, SpecialToken> specials;  // "cls_token" -> ...; special_tokens_map wins
  std::map<std::string, std::string> special_source;  // "cls_token" -> the file that named it
  std::vector<SpecialToken> additional_special_tokens;
  std::vector<AddedToken> added_tokens_decoder;  // tokenizer_config.json added_tokens_decoder
  bool lowercase_input = false;                  // sentence_bert_config.json do_lower_case
};

const char* const kSpecialKeys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                    "pad_token", "cls_token", "mask_token"};

Status read_specials(const json& j, const std::string& file, TokenizerConfig* cfg) {
  for (const char* key : kSpecialKeys) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    std::optional<SpecialToken> t;
    DT_RETURN_IF_ERROR(parse_special(*it, file, key, &t));
    if (t) {
      cfg->specials[key] = *t;
      cfg->special_source[key] = file;
    } else {
      cfg->specials.erase(key);
    }
  }
  auto it = j.find("additional_special_tokens");
  if (it != j.end() && !it->is_null()) {
    if (!it->is_array())
      return key_error(file, "additional_special_tokens", "must be a list of tokens", &*it);
    cfg->additional_special_tokens.clear();
    for (size_t i = 0; i < it->size(); ++i) {
      std::optional<SpecialToken> t;
      DT_RETURN_IF_ERROR(parse_special((*it)[i], file, str_cat("additional_special_tokens[", i, "]"), &t));
      if (t) cfg->additional_special_tokens.push_back(*t);
    }
  }
  return Status::OK();
}

Status parse_added_token(const json& v, const std::string& file, const std::string& key,
                         AddedToken* t) {
  if (!v.is_object()) return key_error(file, key, "must be an object", &v);
  const std::string p = key + ".";
  DT_RETURN_IF_ERROR(get_string(v, "content", file, p, "", &t->content));
  if (t->content.empty()) return key_error(file, key + ".content", "must be a non-empty string");
  DT_RETURN_IF_ERROR(get_bool(v, "special", file, p, false, &t->special));
  DT_RETURN_IF_ERROR(get_bool(v, "single_word", file, p, false, &t->single_word));
  DT_RETURN_IF_ERROR(get_bool(v, "lstrip", file, p, false, &t->lstrip));
  DT_RETURN_IF_ERROR(get_bool(v, "rstrip", file, p, false, &t->rstrip));
  // tokenizers' default: special tokens are not normalized, other added tokens are.
  DT_RETURN_IF_ERROR(get_bool(v, "normalized", file, p, !t->special, &t->normalized));
  return Status::OK();
}

Result<TokenizerConfig> read_configs(const std::string& dir) {
  TokenizerConfig cfg;
  const std::string tc_path = dir + "/tokenizer_config.json";
  Result<json> tc = read_optional_json(tc_path);
  if (!tc.ok()) return tc.status();
  if (!tc->is_null()) {
    const json& j = *tc;
    cfg.present = true;
    DT_RETURN_IF_ERROR(get_string(j, "tokenizer_class", tc_path, "", "", &cfg.tokenizer_class));
    DT_RETURN_IF_ERROR(get_bool(j, "do_lower_case", tc_path, "", true, &cfg.do_lower_case));
    DT_RETURN_IF_ERROR(get_optional_bool(j, "strip_accents", tc_path, "", &cfg.strip_accents));
    DT_RETURN_IF_ERROR(
        get_bool(j, "tokenize_chinese_chars", tc_path, "", true, &cfg.tokenize_chinese_chars));
    DT_RETURN_IF_ERROR(read_specials(j, tc_path, &cfg));
    auto it = j.find("added_tokens_decoder");
    if (it != j.end() && !it->is_null()) {
      if (!it->is_object())
        return key_error(tc_path, "added_tokens_decoder", "must be an object of id -> token", &*it);
      for (const auto& [id_text, v] : it->items()) {
        const std::string key = "added_tokens_decoder." + id_text;
        AddedToken t;
        DT_RETURN_IF_ERROR(parse_added_token(v, tc_path, key, &t));
        char* end = nullptr;
        const long id = std::strtol(id_text.c_str(), &end, 10);
        if (id_text.empty() || *end != '\0' || id < 0 || id > INT32_MAX)
          return key_error(tc_path, key, "must be keyed by a token id (an integer >= 0)");
        t.id = static_cast<int32_t>(id);
        cfg.added_tokens_decoder.push_back(t);
      }
    }
  }
  const std::string sm_path = dir + "/special_tokens_map.json";
  Result<json> sm = read_optional_json(sm_path);
  if (!sm.ok()) return sm.status();
  if (!sm->is_null()) DT_RETURN_IF_ERROR(read_specials(*sm, sm_path, &cfg));

  const std::string sb_path = dir + "/sentence_bert_config.json";
  Result<json> sb = read_optional_json(sb_path);
  if (!sb.ok()) return sb.status();
  if (!sb->is_null())
    DT_RETURN_IF_ERROR(get_bool(*sb, "do_lower_case", sb_path, "", false, &cfg.lowercase_input));
  return cfg;
}

bool is_mpnet_class(const std::string& cls) {
  return cls == "MPNetTokenizer" || cls == "MPNetTokenizerFast";
}

// The special token transformers uses for `key` when the files name none.
std::string default_special(const std::string& tokenizer_class, const std::string& key) {
  if (is_mpnet_class(tokenizer_class)) {
    static const std::map<std::string, std::string> m = {
        {"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "[UNK]"}, {"sep_token", "</s>"},
        {"pad_token", "<pad>"}, {"cls_token", "<s>"}, {"mask_token", "<mask>"}};
    auto it = m.find(key);
    return it == m.end() ? "" : it->second;
  }
  static const std::map<std::string, std::string> m = {{"unk_token", "[UNK]"},
                                                       {"sep_token", "[SEP]"},
                                                       {"pad_token", "[PAD]"},
                                                       {"cls_token", "[CLS]"},
                                                       {"mask_token", "[MASK]"}};
  auto it = m.find(key);
  return it == m.end() ? "" : it->second;
}

std::optional<SpecialToken> special_of(const TokenizerConfig& cfg, const std::string& key) {
  auto it = cfg.specials.find(key);
  if (it != cfg.specials.end()) return it->second;
  const std::string d = default_special(cfg.tokenizer_class, key);
  if (d.empty()) return std::nullopt;
  SpecialToken t;
  t.content = d;
  // MPNetTokenizer makes its mask token swallow the space before it.
  t.lstrip = key == "mask_token" && is_mpnet_class(cfg.tokenizer_class);
  return t;
}

// The id of `token` among the added tokens, else in the vocabulary; -1 when absent.
int32_t lookup(const TokenizerSpec& spec, const std::string& token) {
  for (const auto& t : spec.added_tokens)
    if (t.content == token) return t.id;
  for (auto it = spec.vocab.rbegin(); it != spec.vocab.rend(); ++it)
    if (it->first == token) return it->second;
  return -1;
}

Result<std::vector<std::pair<std::string, int32_t>>> read_vocab_txt(const std::string& path) {
  std::string data;
  DT_RETURN_IF_ERROR(Env::Default()->read_file(path, &data));
  std::vector<std::pair<std::string, int32_t>> vocab;
  // Python reads vocab.txt in text mode: "\n", "\r\n" and "\r" all end a line.
  size_t i = 0;
  while (i < data.size()) {
    size_t j = data.find_first_of("\r\n", i);
    if (j == std::string::npos) j = data.size();
    vocab.emplace_back(data.substr(i, j - i), static_cast<int32_t>(vocab.size()));
    if (j < data.size() && data[j] == '\r' && j + 1 < data.size() && data[j + 1] == '\n') ++j;
    i = j + 1;
  }
  if (vocab.empty()) return Status::Error(str_cat(path, ": the vocabulary is empty"));
  return vocab;
}

// vocab.txt layout: the conversion transformers applies to a slow BertTokenizer /
// MPNetTokenizer (BertNormalizer, BertPreTokenizer, WordPiece, "CLS $A SEP").
Result<TokenizerSpec> spec_from_vocab_txt(const std::string& vocab_path, const TokenizerConfig& cfg) {
  TokenizerSpec spec;
  spec.source = vocab_path;
  auto vocab = read_vocab_txt(vocab_path);
  if (!vocab.ok()) return vocab.status();
  spec.vocab = std::move(vocab).value();
  spec.normalizer.clean_text = true;
  spec.normalizer.handle_chinese_chars = cfg.tokenize_chinese_chars;
  spec.normalizer.lowercase = cfg.do_lower_case;
  spec.normalizer.strip_accents = cfg.strip_accents.value_or(cfg.do_lower_case);
  spec.lowercase_input = cfg.lowercase_input;

  // int64: an id of INT32_MAX in added_tokens_decoder must not overflow here (the
  // tokenizer refuses ids that far beyond the vocabulary).
  int64_t next_id = 0;
  for (const auto& [tok, id] : spec.vocab) next_id = std::max<int64_t>(next_id, int64_t{id} + 1);
  spec.added_tokens = cfg.added_tokens_decoder;
  for (const auto& t : spec.added_tokens) next_id = std::max<int64_t>(next_id, int64_t{t.id} + 1);

  auto add_special = [&](const SpecialToken& s) {
    for (const auto& t : spec.added_tokens)
      if (t.content == s.content) return;
    AddedToken t;
    t.content = s.content;
    t.lstrip = s.lstrip;
    t.rstrip = s.rstrip;
    t.single_word = s.single_word;
    t.normalized = false;
    t.special = true;
    t.id = lookup(spec, s.content);
    // transformers adds a missing special token after the vocabulary.
    if (t.id < 0) t.id = next_id > INT32_MAX ? -1 : static_cast<int32_t>(next_id++);
    spec.added_tokens.push_back(t);
  };
  std::map<std::string, std::string> names;
  for (const char* key : kSpecialKeys) {
    auto s = special_of(cfg, key);
    if (!s) continue;
    names[key] = s->content;
    const bool required = std::string(key) == "unk_token" || std::string(key) == "cls_token" ||
                          std::string(key) == "sep_token" || std::string(key) == "pad_token";
    if (required && lookup(spec, s->content) < 0) {
      auto src = cfg.special_source.find(key);
      const std::string from =
          src != cfg.special_source.end()
              ? "named in " + src->second
              : "the " + (cfg.tokenizer_class.empty() ? std::string("BertTokenizer") : cfg.tokenizer_class) +
                    " default";
      return Status::Error(str_cat(vocab_path, ": the ", key, " '", s->content, "' (", from,
                                   ") is not in the vocabulary"));
    }
  }
  // transformers' order: bos, eos, unk, sep, pad, cls, mask, then the additional ones.
  for (const char* key : kSpecialKeys)
    if (auto s = special_of(cfg, key)) add_special(*s);
  for (const auto& s : cfg.additional_special_tokens) add_special(s);

  spec.wordpiece.unk_token = names["unk_token"];
  spec.cls_id = lookup(spec, names["cls_token"]);
  spec.sep_id = lookup(spec, names["sep_token"]);
  spec.pad_id = lookup(spec, names["pad_token"]);
  spec.prefix_ids = {spec.cls_id};
  spec.suffix_ids = {spec.sep_id};
  return spec;
}

// post_processor of tokenizer.json: the ids around a single sequence.
Status parse_post_processor(const json& pp, const std::string& file, TokenizerSpec* spec) {
  if (pp.is_null()) return Status::OK();
  if (!pp.is_object()) return key_error(file, "post_processor", "must be an object or null", &pp);
  std::string type;
  DT_RETURN_IF_ERROR(get_string(pp, "type", file, "post_processor.", "", &type));
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    // "cls": ["[CLS]", 101], "sep": ["[SEP]", 102]; a single text is cls $A sep.
    int32_t ids[2];
    const char* keys[2] = {"cls", "sep"};
    for (int k = 0; k < 2; ++k) {
      auto it = pp.find(keys[k]);
      const std::string key = str_cat("post_processor.", keys[k]);
      if (it == pp.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_string())
        return key_error(file, key, "must be [token, id]", it == pp.end() ? nullptr : &*it);
      DT_RETURN_IF_ERROR(to_id((*it)[1], file, key + "[1]", &ids[k]));
    }
    spec->prefix_ids = {ids[0]};
    spec->suffix_ids = {ids[1]};
    return Status::OK();
  }
  if (type == "TemplateProcessing") {
    auto single = pp.find("single");
    if (single == pp.end() || !single->is_array())
      return key_error(file, "post_processor.single", "must be a list of template pieces",
                       single == pp.end() ? nullptr : &*single);
    auto specials = pp.find("special_tokens");
    bool seen_sequence = false;
    for (size_t i = 0; i < single->size(); ++i) {
      const json& item = (*single)[i];
      const std::string key = str_cat("post_processor.single[", i, "]");
      if (item.is_object() && item.contains("Sequence")) {
        seen_sequence = true;
        continue;
      }
      if (!item.is_object() || !item.contains("SpecialToken") || !item["SpecialToken"].is_object() ||
          !item["SpecialToken"].contains("id") || !item["SpecialToken"]["id"].is_string())
        return key_error(file, key, "must be {\"Sequence\": ...} or {\"SpecialToken\": {\"id\": ...}}");
      const std::string name = item["SpecialToken"]["id"].get<std::string>();
      if (specials == pp.end() || !specials->is_object() || !specials->contains(name) ||
          !(*specials)[name].is_object() || !(*specials)[name].contains("ids") ||
          !(*specials)[name]["ids"].is_array())
        return key_error(file, str_cat("post_processor.special_tokens.", name),
                         "must be an object with the \"ids\" of the template's special token");
      const json& ids = (*specials)[name]["ids"];
      for (size_t k = 0; k < ids.size(); ++k) {
        int32_t id;
        DT_RETURN_IF_ERROR(to_id(ids[k], file, str_cat("post_processor.special_tokens.", name, ".ids[", k, "]"), &id));
        (seen_sequence ? spec->suffix_ids : spec->prefix_ids).push_back(id);
      }
    }
    if (!seen_sequence)
      return key_error(file, "post_processor.single", "has no {\"Sequence\": {\"id\": \"A\"}} piece");
    return Status::OK();
  }
  return key_error(file, "post_processor.type",
                   str_cat("is '", type, "'; supported: TemplateProcessing, BertProcessing, RobertaProcessing"));
}

Result<TokenizerSpec> spec_from_tokenizer_json(const std::string& file, const TokenizerConfig& cfg) {
  Result<json> parsed = read_json(file);
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  if (!j.is_object()) return Status::Error(str_cat(file, ": expected a JSON object at the top level"));
  TokenizerSpec spec;
  spec.source = file;

  // model: WordPiece only.
  auto model_it = j.find("model");
  if (model_it == j.end() || !model_it->is_object())
    return key_error(file, "model", "must be an object (the tokenizer model)",
                     model_it == j.end() ? nullptr : &*model_it);
  const json& model = *model_it;
  std::string type;
  DT_RETURN_IF_ERROR(get_string(model, "type", file, "model.", "", &type));
  if (type.empty()) {
    // tokenizers reads an untagged model by its fields: a WordPiece model has a vocab object
    // and no merges.
    if (model.contains("merges") || !model.contains("vocab") || !model["vocab"].is_object())
      return key_error(file, "model.type", "is missing and the model is not a WordPiece model");
    type = "WordPiece";
  }
  if (type != "WordPiece")
    return Status::Error(str_cat(file, ": model.type is '", type,
                                 "': disttune supports WordPiece tokenizers only (BERT, MPNet, "
                                 "bge, e5, MiniLM, ...), not ", type));
  auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object())
    return key_error(file, "model.vocab", "must be an object of token -> id",
                     vocab_it == model.end() ? nullptr : &*vocab_it);
  spec.vocab.reserve(vocab_it->size());
  for (const auto& [token, v] : vocab_it->items()) {
    int32_t id;
    DT_RETURN_IF_ERROR(to_id(v, file, str_cat("model.vocab.", token), &id));
    spec.vocab.emplace_back(token, id);
  }
  if (spec.vocab.empty()) return key_error(file, "model.vocab", "is empty");
  DT_RETURN_IF_ERROR(get_string(model, "unk_token", file, "model.", "[UNK]", &spec.wordpiece.unk_token));
  DT_RETURN_IF_ERROR(get_string(model, "continuing_subword_prefix", file, "model.", "##",
                                &spec.wordpiece.continuing_subword_prefix));
  auto mc = model.find("max_input_chars_per_word");
  if (mc != model.end() && !mc->is_null()) {
    if (!mc->is_number_integer() || mc->get<int64_t>() < 0 || mc->get<int64_t>() > INT32_MAX)
      return key_error(file, "model.max_input_chars_per_word", "must be an integer >= 0", &*mc);
    spec.wordpiece.max_input_chars_per_word = static_cast<int>(mc->get<int64_t>());
  }

  // normalizer: BertNormalizer or none.
  auto norm_it = j.find("normalizer");
  if (norm_it == j.end() || norm_it->is_null()) {
    spec.normalizer = {false, false, false, false};
  } else {
    const json& n = *norm_it;
    if (!n.is_object()) return key_error(file, "normalizer", "must be an object or null", &n);
    std::string ntype;
    DT_RETURN_IF_ERROR(get_string(n, "type", file, "normalizer.", "", &ntype));
    if (ntype != "BertNormalizer")
      return key_error(file, "normalizer.type",
                       str_cat("is '", ntype, "'; disttune supports BertNormalizer (or null)"));
    std::optional<bool> strip;
    DT_RETURN_IF_ERROR(get_bool(n, "clean_text", file, "normalizer.", true, &spec.normalizer.clean_text));
    DT_RETURN_IF_ERROR(get_bool(n, "handle_chinese_chars", file, "normalizer.", true,
                                &spec.normalizer.handle_chinese_chars));
    DT_RETURN_IF_ERROR(get_bool(n, "lowercase", file, "normalizer.", true, &spec.normalizer.lowercase));
    DT_RETURN_IF_ERROR(get_optional_bool(n, "strip_accents", file, "normalizer.", &strip));
    // BertTokenizerFast (and the other BERT-family fast tokenizers) rebuild the normalizer
    // from tokenizer_config.json's arguments, their defaults included.
    if (cfg.present && cfg.tokenizer_class != "PreTrainedTokenizerFast") {
      spec.normalizer.lowercase = cfg.do_lower_case;
      strip = cfg.strip_accents;
      spec.normalizer.handle_chinese_chars = cfg.tokenize_chinese_chars;
    }
    spec.normalizer.strip_accents = strip.value_or(spec.normalizer.lowercase);
  }

  auto pre_it = j.find("pre_tokenizer");
  std::string ptype;
  if (pre_it != j.end() && pre_it->is_object())
    DT_RETURN_IF_ERROR(get_string(*pre_it, "type", file, "pre_tokenizer.", "", &ptype));
  if (ptype != "BertPreTokenizer")
    return key_error(file, "pre_tokenizer",
                     str_cat("is ", ptype.empty() ? std::string("not set") : "'" + ptype + "'",
                             "; disttune supports BertPreTokenizer"));

  auto added_it = j.find("added_tokens");
  if (added_it != j.end() && !added_it->is_null()) {
    if (!added_it->is_array()) return key_error(file, "added_tokens", "must be a list", &*added_it);
    for (size_t i = 0; i < added_it->size(); ++i) {
      const std::string key = str_cat("added_tokens[", i, "]");
      AddedToken t;
      DT_RETURN_IF_ERROR(parse_added_token((*added_it)[i], file, key, &t));
      auto id = (*added_it)[i].find("id");
      if (id == (*added_it)[i].end()) return key_error(file, key + ".id", "is missing");
      DT_RETURN_IF_ERROR(to_id(*id, file, key + ".id", &t.id));
      spec.added_tokens.push_back(t);
    }
  }

  auto pp_it = j.find("post_processor");
  if (pp_it != j.end()) DT_RETURN_IF_ERROR(parse_post_processor(*pp_it, file, &spec));
  spec.lowercase_input = cfg.lowercase_input;

  // Padding: the pad token the config files name (what transformers pads with), else the
  // file's padding.pad_id, else [PAD] / <pad>.
  if (auto s = cfg.specials.find("pad_token"); s != cfg.specials.end()) {
    spec.pad_id = lookup(spec, s->second.content);
    if (spec.pad_id < 0)
      return Status::Error(str_cat(file, ": the pad_token '", s->second.content,
                                   "' named by the tokenizer config files is not in the vocabulary"));
  } else if (auto pad = j.find("padding"); pad != j.end() && pad->is_object() && pad->contains("pad_id")) {
    DT_RETURN_IF_ERROR(to_id((*pad)["pad_id"], file, "padding.pad_id", &spec.pad_id));
  } else {
    spec.pad_id = lookup(spec, "[PAD]");
    if (spec.pad_id < 0) spec.pad_id = lookup(spec, "<pad>");
    if (spec.pad_id < 0)
      return Status::Error(str_cat(file, ": cannot tell the padding token: no pad_token in "
                                         "tokenizer_config.json or special_tokens_map.json, no "
                                         "padding.pad_id, and neither [PAD] nor <pad> in the vocabulary"));
  }
  auto named = [&](const char* key) {
    auto s = special_of(cfg, key);
    return s ? lookup(spec, s->content) : -1;
  };
  spec.cls_id = spec.prefix_ids.empty() ? named("cls_token") : spec.prefix_ids.front();
  spec.sep_id = spec.suffix_ids.empty() ? named("sep_token") : spec.suffix_ids.back();
  return spec;
}

bool is_dir(const std::string& path) {
  return Env::Default()->file_exists(path + "/.");
}

}  // namespace

Result<TokenizerSpec> read_tokenizer_spec(const std::string& dir) {
  if (!is_dir(dir)) return Status::Error(str_cat("model directory '", dir, "' does not exist"));
  Result<TokenizerConfig> cfg = read_configs(dir);
  if (!cfg.ok()) return cfg.status();
  const std::string tj = dir + "/tokenizer.json";
  if (Env::Default()->file_exists(tj)) return spec_from_tokenizer_json(tj, *cfg);
  const std::string vt = dir + "/vocab.txt";
  if (Env::Default()->file_exists(vt)) return spec_from_vocab_txt(vt, *cfg);
  return Status::Error(str_cat("model directory '", dir,
                               "' has no tokenizer: expected tokenizer.json or vocab.txt"));
}

Result<TokenizerSpec> bert_vocab_spec(const std::string& vocab_txt, bool do_lower_case) {
  if (!Env::Default()->file_exists(vocab_txt))
    return Status::Error(str_cat(vocab_txt, ": vocabulary file does not exist"));
  TokenizerConfig cfg;
  cfg.do_lower_case = do_lower_case;
  return spec_from_vocab_txt(vocab_txt, cfg);
}

}  // namespace disttune::text
