// Tokenizer targets.
//  - tokenize: arbitrary bytes (invalid UTF-8 included) through two WordPiece tokenizers
//    built from the bundled bert-base-uncased vocabulary: the plain BERT one, and one read
//    from a model directory with added tokens (raw and normalized), no lowercasing in the
//    normalizer but sentence-transformers' do_lower_case, and CJK splitting off.
//  - tokenizer_files: the bytes are a model directory's tokenizer files (tokenizer.json or
//    vocab.txt, tokenizer_config.json, special_tokens_map.json, sentence_bert_config.json,
//    separated by kPartSeparator); Tokenizer::load reads them and the tokenizer encodes a
//    few texts.
// Both check what encode() promises: special tokens around the pieces, at most max_length
// ids, every id inside the vocabulary, and truncation keeping a prefix of the pieces.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "fuzz.h"
#include "text/tokenizer.h"

namespace disttune::fuzz {
namespace {

using json = nlohmann::json;

const std::string& bundled_vocab_path() {
  static const std::string p = std::string(DISTTUNE_SOURCE_DIR) + "/datasets/vocab/bert-base-uncased.txt";
  return p;
}

std::string read_bundled_vocab() {
  std::ifstream in(bundled_vocab_path(), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  DT_CHECK(!ss.str().empty(), "cannot read ", bundled_vocab_path());
  return ss.str();
}

// encode()'s contract, checked on one text.
void check_encoding(const char* target, const Tokenizer& tok, std::string_view text) {
  const std::vector<int32_t> full = tok.encode(text, 1 << 20);
  const int specials = tok.num_special_tokens();
  for (int32_t id : full)
    if (id < 0 || id >= tok.vocab_size())
      bug(target, str_cat("id ", id, " outside the vocabulary (", tok.vocab_size(), " ids)"));
  if (static_cast<int>(full.size()) < specials) bug(target, "fewer ids than special tokens");
  for (int max_length : {specials, specials + 1, 8, 128}) {
    if (max_length < specials) continue;
    const std::vector<int32_t> cut = tok.encode(text, max_length);
    const size_t expect = std::min(full.size(), static_cast<size_t>(max_length));
    if (cut.size() != expect)
      bug(target, str_cat("encode(max_length ", max_length, ") gave ", cut.size(), " ids, expected ", expect));
    // The special tokens at both ends, the first pieces in between: cut is full's first
    // cut.size() - S ids and its last S, for the post-processor's suffix length S (not
    // visible through the interface, so any split of the special tokens is accepted).
    bool kept_prefix = false;
    for (int s = 0; s <= specials && !kept_prefix; ++s) {
      const size_t head = cut.size() - static_cast<size_t>(s);
      kept_prefix = std::equal(cut.begin(), cut.begin() + head, full.begin()) &&
                    std::equal(cut.begin() + head, cut.end(), full.end() - s);
    }
    if (!kept_prefix) bug(target, str_cat("truncation to ", max_length, " does not keep the first pieces"));
  }
  const std::vector<std::string> pieces = tok.tokenize(text);
  if (pieces.size() + specials != full.size())
    bug(target, str_cat("tokenize() gave ", pieces.size(), " pieces but encode() ", full.size() - specials));
}

// --- tokenize --------------------------------------------------------------------------

struct TwoTokenizers {
  Tokenizer plain, added;
};

const TwoTokenizers& tokenizers() {
  static const TwoTokenizers t = [] {
    const std::string vocab = read_bundled_vocab();
    // The added-token directory keeps its own copy of the vocabulary so that fuzzing the
    // tokenizer files cannot touch it.
    write_scratch("tokenize-model/vocab.txt", vocab);
    json cfg = {{"tokenizer_class", "BertTokenizer"},
                {"do_lower_case", false},
                {"tokenize_chinese_chars", false},
                {"additional_special_tokens", {"<ent>"}},
                {"added_tokens_decoder",
                 {{"30522", {{"content", "<ent>"}, {"special", true}, {"lstrip", true}, {"normalized", false}}},
                  {"30523", {{"content", "hello world"}, {"special", false}, {"single_word", true},
                             {"normalized", true}}}}}};
    write_scratch("tokenize-model/tokenizer_config.json", cfg.dump());
    write_scratch("tokenize-model/sentence_bert_config.json", R"({"max_seq_length": 128, "do_lower_case": true})");
    return TwoTokenizers{Tokenizer::from_vocab_file(bundled_vocab_path(), true),
                         Tokenizer::load(scratch_dir() + "/tokenize-model")};
  }();
  return t;
}

void fuzz_tokenize(std::string_view input) {
  const TwoTokenizers& t = tokenizers();
  check_encoding("tokenize", t.plain, input);
  check_encoding("tokenize", t.added, input);
}

std::vector<std::string> tokenize_seeds() {
  return {"Hello, world! The quick brown fox jumps over the lazy dog.",
          "Caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 e\xCC\x81 \xC3\x85ngstr\xC3\xB6m",
          "\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6 mixed \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E text",
          "emoji \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD and symbols \xE2\x82\xAC\xC2\xA7\xC2\xB6",
          "control\x01\x02\x7F chars\ttab\nnewline\r\n\xC2\xA0nbsp\xE2\x80\x8Bzwsp",
          "invalid \xFF\xFE utf8 \xC3 truncated \xE2\x82 and \xC0\xAF overlong \xED\xA0\x80 surrogate",
          std::string(130, 'a') + " long word " + std::string(99, 'b'),
          "<ent>Hello World<ent> hello world<ent>x <ent> [CLS] [SEP] [MASK] [UNK]",
          "\xC4\xB0stanbul STRASSE stra\xC3\x9F" "e \xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xE1\xBA\x9E",
          "unbelievable tokenization ##ing ## # ' \" ` ~ (parenthesis) [brackets] {braces}",
          "", " ", "\xEF\xBB\xBF" "bom", std::string("nul\0byte", 8)};
}

// --- tokenizer_files -------------------------------------------------------------------

const char* const kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json",
                                       "special_tokens_map.json", "sentence_bert_config.json"};

void fuzz_tokenizer_files(std::string_view input) {
  const std::vector<std::string_view> parts = split_parts(input, 4);
  // The first part is tokenizer.json when it looks like JSON, else a vocab.txt.
  const size_t first = parts[0].find_first_not_of(" \t\r\n");
  const bool is_json = first != std::string_view::npos && parts[0][first] == '{';
  remove_scratch("tok/tokenizer.json");
  remove_scratch("tok/vocab.txt");
  write_scratch(is_json ? "tok/tokenizer.json" : "tok/vocab.txt", parts[0]);
  for (size_t i = 1; i < 4; ++i) {
    const std::string name = std::string("tok/") + kTokenizerFiles[i];
    if (i < parts.size()) {
      write_scratch(name, parts[i]);
    } else {
      remove_scratch(name);
    }
  }
  const Tokenizer tok = Tokenizer::load(scratch_dir() + "/tok");
  (void)tok.fingerprint();
  for (std::string_view text : {"Hello, world! unbelievable", "[CLS] <mask> <s> \xE4\xB8\xAD\xE6\x96\x87 caf\xC3\xA9",
                                "\xFF bad \xC3 utf8", ""})
    check_encoding("tokenizer_files", tok, text);
}

json small_vocab() {
  const char* tokens[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "</s>", "<pad>",
                          "<mask>", "hello", "world", ",", "!", ".", "un", "##bel", "##ie",
                          "##va", "##ble", "caf", "##e", "\xE4\xB8\xAD", "\xE6\x96\x87", "a",
                          "##s", "bad", "ut", "##f", "##8", "[", "]"};
  json v = json::object();
  int id = 0;
  for (const char* t : tokens) v[t] = id++;
  return v;
}

std::string template_tokenizer_json() {
  json j = {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens",
             {{{"id", 0}, {"content", "[PAD]"}, {"special", true}, {"normalized", false}},
              {{"id", 2}, {"content", "[CLS]"}, {"special", true}, {"normalized", false}},
              {{"id", 3}, {"content", "[SEP]"}, {"special", true}, {"normalized", false}},
              {{"id", 4}, {"content", "[MASK]"}, {"special", true}, {"lstrip", true}, {"normalized", false}}}},
            {"normalizer", {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                            {"strip_accents", nullptr}, {"lowercase", true}}},
            {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
            {"post_processor",
             {{"type", "TemplateProcessing"},
              {"single", {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
                          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                          {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}}},
              {"special_tokens", {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}},
                                  {"[SEP]", {{"id", "[SEP]"}, {"ids", {3}}, {"tokens", {"[SEP]"}}}}}}}},
            {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}}},
            {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                       {"max_input_chars_per_word", 100}, {"vocab", small_vocab()}}}};
  return j.dump();
}

std::string mpnet_tokenizer_json() {
  json j = json::parse(template_tokenizer_json());
  j["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"</s>", 6}}, {"cls", {"<s>", 5}},
                         {"trim_offsets", true}, {"add_prefix_space", false}};
  j["added_tokens"] = {{{"id", 7}, {"content", "<pad>"}, {"special", true}},
                       {{"id", 8}, {"content", "<mask>"}, {"special", true}, {"lstrip", true}}};
  j["model"].erase("type");
  return j.dump(1);
}

std::string vocab_txt() {
  // By id: vocab.txt gives each token the id of its line.
  std::vector<std::string> by_id;
  for (const auto& [tok, id] : small_vocab().get<std::map<std::string, int>>()) {
    if (by_id.size() <= static_cast<size_t>(id)) by_id.resize(id + 1);
    by_id[id] = tok;
  }
  std::string v;
  for (const auto& t : by_id) v += t + "\n";
  return v;
}

std::vector<std::string> tokenizer_files_seeds() {
  return {
      template_tokenizer_json(),
      join_parts({template_tokenizer_json(),
                  R"({"tokenizer_class": "BertTokenizer", "do_lower_case": false, "strip_accents": true,
                      "tokenize_chinese_chars": false, "pad_token": "[PAD]", "model_max_length": 512})",
                  R"({"cls_token": {"content": "[CLS]", "lstrip": false}, "mask_token": "[MASK]",
                      "additional_special_tokens": ["[SEP]"]})",
                  R"({"max_seq_length": 256, "do_lower_case": true})"}),
      join_parts({mpnet_tokenizer_json(),
                  R"({"tokenizer_class": "MPNetTokenizer", "do_lower_case": true,
                      "added_tokens_decoder": {"5": {"content": "<s>", "special": true}}})"}),
      join_parts({vocab_txt(),
                  R"({"do_lower_case": true, "added_tokens_decoder": {"31": {"content": "new token",
                      "special": false, "normalized": true, "single_word": true}}})",
                  R"({"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                      "mask_token": {"content": "[MASK]", "lstrip": true}})"}),
      join_parts({vocab_txt(), R"({"tokenizer_class": "MPNetTokenizer"})"}),
  };
}

}  // namespace

DT_FUZZ_TARGET(tokenize, "tokenize", "WordPiece tokenizer on arbitrary bytes (invalid UTF-8 included)",
               fuzz_tokenize, tokenize_seeds, 4096,
               "\xC3", "\xE2\x82", "\xF0\x9F", "\xED\xA0\x80", "\xC0\x80", "\xEF\xBF\xBD", "\xCC\x81",
               "\xE4\xB8\xAD", "<ent>", "hello world", "##", "[UNK]", "[CLS]", " ", "\t", "\r\n",
               "\xC2\xA0", "\xE2\x80\x8B", "\x7F");

DT_FUZZ_TARGET(tokenizer_files, "tokenizer_files",
               "tokenizer.json / vocab.txt + tokenizer_config.json + special_tokens_map.json parsing",
               fuzz_tokenizer_files, tokenizer_files_seeds, 16384,
               "\n%%%%\n", "\"id\"", "\"ids\"", "\"content\"", "\"special\"", "\"normalized\"",
               "\"lstrip\"", "\"single_word\"", "\"type\"", "\"vocab\"", "\"model\"", "\"unk_token\"",
               "\"post_processor\"", "\"TemplateProcessing\"", "\"BertProcessing\"", "\"Sequence\"",
               "\"SpecialToken\"", "\"added_tokens\"", "\"added_tokens_decoder\"", "\"pad_token\"",
               "\"do_lower_case\"", "\"tokenizer_class\"", "\"MPNetTokenizer\"", "\"padding\"",
               "\"pad_id\"", "null", "true", "false", "2147483647", "-1", "4294967296", "1e400",
               "\"\"", "{}", "[]", "\"max_input_chars_per_word\"", "\"continuing_subword_prefix\"");

}  // namespace disttune::fuzz
