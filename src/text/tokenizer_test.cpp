#include "text/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <climits>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "common/check.h"
#include "test_util.h"
#include "text/tokenizer_spec.h"

namespace disttune {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string repo_vocab() { return test::source_dir() + "/datasets/vocab/bert-base-uncased.txt"; }
std::string minilm_dir() { return test::data_dir() + "/all-MiniLM-L6-v2"; }
std::string golden_path() { return test::source_dir() + "/tests/golden/text/minilm_tokens.jsonl"; }

struct GoldenCase {
  std::string text;
  std::vector<int32_t> ids;  // transformers.js, special tokens, no truncation
};

std::vector<GoldenCase> read_golden() {
  std::ifstream in(golden_path());
  std::vector<GoldenCase> cases;
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    if (!j.contains("text")) continue;  // the _meta line
    cases.push_back({j["text"].get<std::string>(), j["ids"].get<std::vector<int32_t>>()});
  }
  return cases;
}

// sentence-transformers truncation of a full [CLS] ... [SEP] row: [CLS] + the first
// max_length - 2 pieces + [SEP].
std::vector<int32_t> st_truncate(const std::vector<int32_t>& full, int max_length) {
  if (static_cast<int>(full.size()) <= max_length) return full;
  std::vector<int32_t> out(full.begin(), full.begin() + (max_length - 1));
  out.push_back(full.back());
  return out;
}

using test::error_of;

// Compares every golden case, untruncated and at the usual max lengths.
void expect_matches_golden(const Tokenizer& tok, const std::vector<GoldenCase>& cases) {
  int mismatches = 0;
  for (const auto& c : cases) {
    const auto ids = tok.encode(c.text, INT_MAX);
    if (ids != c.ids && ++mismatches <= 10) ADD_FAILURE() << "text: " << json(c.text).dump();
    for (int max_length : {2, 3, 16, 128, 256, 512})
      ASSERT_EQ(tok.encode(c.text, max_length), st_truncate(c.ids, max_length))
          << "max_length " << max_length << ", text: " << json(c.text).dump();
  }
  EXPECT_EQ(mismatches, 0);
}

class TokenizerGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(golden_path()))
      GTEST_SKIP() << "golden file " << golden_path()
                   << " is absent (generate it with tests/ref/gen_tokenizer_golden.mjs)";
    cases_ = read_golden();
    ASSERT_GE(cases_.size(), 200u);
  }
  std::vector<GoldenCase> cases_;
};

// The golden ids come from transformers.js on all-MiniLM-L6-v2's tokenizer.json, whose
// vocabulary is the bert-base-uncased vocab.txt bundled in the repository: the test runs
// without ../shared/data.
TEST_F(TokenizerGolden, BundledVocabMatchesTransformersJs) {
  expect_matches_golden(Tokenizer::from_vocab_file(repo_vocab(), true), cases_);
}

TEST_F(TokenizerGolden, MiniLmTokenizerJsonMatchesTransformersJs) {
  DT_REQUIRE_DATA("all-MiniLM-L6-v2/tokenizer.json");
  const Tokenizer tok = Tokenizer::load(minilm_dir());
  EXPECT_EQ(tok.cls_id(), 101);
  EXPECT_EQ(tok.sep_id(), 102);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 100);
  EXPECT_EQ(tok.vocab_size(), 30522);
  EXPECT_TRUE(tok.do_lower_case());
  EXPECT_EQ(tok.vocab()[7592], "hello");
  expect_matches_golden(tok, cases_);
}

TEST_F(TokenizerGolden, VocabTxtLayoutEqualsTokenizerJsonLayout) {
  DT_REQUIRE_DATA("all-MiniLM-L6-v2/tokenizer.json");
  test::TempDir dir;
  for (const char* f : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"})
    fs::copy_file(minilm_dir() + "/" + f, dir.file(f));
  const Tokenizer from_json = Tokenizer::load(minilm_dir());
  const Tokenizer from_txt = Tokenizer::load(dir.path());
  EXPECT_EQ(from_txt.fingerprint(), from_json.fingerprint());
  EXPECT_EQ(from_txt.vocab(), from_json.vocab());
  for (const auto& c : cases_) ASSERT_EQ(from_txt.encode(c.text, 256), from_json.encode(c.text, 256)) << c.text;
}

TEST(Tokenizer, TruncationKeepsTheSpecialTokens) {
  const Tokenizer tok = Tokenizer::from_vocab_file(repo_vocab());
  std::string text;
  for (int i = 0; i < 50; ++i) text += "hello world ";
  const auto full = tok.encode(text, INT_MAX);
  ASSERT_EQ(full.size(), 102u);
  const auto ids = tok.encode(text, 10);
  ASSERT_EQ(ids.size(), 10u);
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 102);
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + 1, ids.end() - 1),
            std::vector<int32_t>(full.begin() + 1, full.begin() + 9));
  EXPECT_EQ(tok.encode(text, 2), (std::vector<int32_t>{101, 102}));
  EXPECT_EQ(tok.encode("", 8), (std::vector<int32_t>{101, 102}));
  // A word whose pieces straddle the limit is cut between its pieces.
  EXPECT_EQ(tok.tokenize("unaffable"), (std::vector<std::string>{"una", "##ffa", "##ble"}));
  const auto word = tok.encode("unaffable", 64);
  ASSERT_EQ(word.size(), 5u);
  EXPECT_EQ(tok.encode("unaffable", 4), (std::vector<int32_t>{101, word[1], word[2], 102}));
  EXPECT_EQ(error_of([&] { tok.encode("x", 1); }),
            "max_length 1 is too small: the tokenizer adds 2 special tokens");
  EXPECT_EQ(tok.num_special_tokens(), 2);
}

TEST(Tokenizer, EncodeBatchEqualsEncode) {
  const Tokenizer tok = Tokenizer::from_vocab_file(repo_vocab());
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back("text number " + std::to_string(i) + std::string(i % 7, '!'));
  const auto batch = tok.encode_batch(texts, 8);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i], tok.encode(texts[i], 8));
  EXPECT_TRUE(tok.encode_batch({}, 8).empty());
}

TEST(Tokenizer, SpecialTokensInTextAreMatchedAsIs) {
  const Tokenizer tok = Tokenizer::from_vocab_file(repo_vocab());
  EXPECT_EQ(tok.tokenize("a[MASK]b [cls]"),
            (std::vector<std::string>{"a", "[MASK]", "b", "[", "cl", "##s", "]"}));
}

// Invalid UTF-8 reads as Python's decode(errors="replace") would: each bad sequence is
// U+FFFD, which the cleaning step drops.
TEST(Tokenizer, InvalidUtf8IsReplacedThenDropped) {
  const Tokenizer tok = Tokenizer::from_vocab_file(repo_vocab());
  EXPECT_EQ(tok.encode("caf\xC3 ok", 64), tok.encode("caf ok", 64));
  EXPECT_EQ(tok.encode("ab\xFF" "cd", 64), tok.encode("abcd", 64));
  EXPECT_EQ(tok.encode("\xED\xA0\x80 x \xC0\xAF", 64), tok.encode(" x ", 64));
  EXPECT_EQ(tok.encode("\xFF\xFE\xFD", 64), (std::vector<int32_t>{101, 102}));
  // Random bytes: never a crash, always ids of the vocabulary, [CLS] ... [SEP].
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? 'a' + rng() % 26 : rng() % 256);
    const auto ids = tok.encode(s, 32);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.front(), 101);
    EXPECT_EQ(ids.back(), 102);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.vocab_size());
  }
}

// Where transformers.js differs from the Hugging Face Rust tokenizer (which
// sentence-transformers runs), disttune follows Rust; the golden set leaves these out.
TEST(Tokenizer, FollowsRustWhereTransformersJsDiffers) {
  const Tokenizer tok = Tokenizer::from_vocab_file(repo_vocab());
  // Rust lowercases char by char: a final capital sigma becomes U+03C3, not U+03C2.
  EXPECT_EQ(tok.encode("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", 64),
            tok.encode("\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83", 64));
  EXPECT_NE(tok.encode("\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83", 64),
            tok.encode("\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82", 64));
  // CJK ideographs outside the BMP are separated like the others (U+20000).
  EXPECT_EQ(tok.encode("a\xF0\xA0\x80\x80" "b", 64), tok.encode("a \xF0\xA0\x80\x80 b", 64));
  EXPECT_EQ(tok.tokenize("a\xF0\xA0\x80\x80" "b"), (std::vector<std::string>{"a", "[UNK]", "b"}));
}

TEST(Tokenizer, PadBatch) {
  const TokenBatch b = pad_batch({{101, 7, 8, 102}, {101, 102}, {101, 9, 102}}, 0);
  EXPECT_EQ(b.input_ids.scalar_type(), at::kLong);
  EXPECT_EQ(b.attention_mask.scalar_type(), at::kLong);
  EXPECT_TRUE(b.input_ids.equal(at::tensor({101, 7, 8, 102, 101, 102, 0, 0, 101, 9, 102, 0}, at::kLong).view({3, 4})));
  EXPECT_TRUE(b.attention_mask.equal(at::tensor({1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0}, at::kLong).view({3, 4})));
  const TokenBatch p = pad_batch({{0, 5}, {0}}, 1);
  EXPECT_TRUE(p.input_ids.equal(at::tensor({0, 5, 0, 1}, at::kLong).view({2, 2})));
  const TokenBatch e = pad_batch({}, 0);
  EXPECT_EQ(e.input_ids.sizes(), (at::IntArrayRef{0, 0}));
}

// --- model directories written by the tests --------------------------------------------

void write_json(const std::string& path, const json& j) { test::write_text(path, j.dump(1)); }

// A tokenizer.json like all-mpnet-base-v2's: WordPiece with <s> </s> <pad> specials, [UNK]
// as the unknown token, a <mask> that swallows the space on its left.
json mpnet_tokenizer_json(const json& post_processor) {
  const json vocab = {{"<s>", 0}, {"<pad>", 1}, {"</s>", 2}, {"<unk>", 3}, {"[UNK]", 4},
                      {"hello", 5}, {"world", 6}, {"##s", 7}, {"!", 8}, {"<mask>", 9},
                      {"[CLS]", 10}, {"[SEP]", 11}};
  auto added = [](int id, const char* content, bool lstrip) {
    return json{{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", lstrip},
                {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  return {{"version", "1.0"},
          {"truncation", {{"max_length", 128}}},
          {"padding", nullptr},
          {"added_tokens", {added(0, "<s>", false), added(1, "<pad>", false), added(2, "</s>", false),
                            added(3, "<unk>", false), added(9, "<mask>", true)}},
          {"normalizer", {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                          {"strip_accents", nullptr}, {"lowercase", true}}},
          {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
          {"post_processor", post_processor},
          {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
          {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                     {"max_input_chars_per_word", 100}, {"vocab", vocab}}}};
}

const json kMpnetSpecialTokensMap = {
    {"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "[UNK]"}, {"sep_token", "</s>"},
    {"pad_token", "<pad>"}, {"cls_token", "<s>"},
    {"mask_token", {{"content", "<mask>"}, {"lstrip", true}, {"rstrip", false}, {"single_word", false}, {"normalized", false}}}};

void expect_mpnet_ids(const Tokenizer& tok) {
  EXPECT_EQ(tok.cls_id(), 0);
  EXPECT_EQ(tok.sep_id(), 2);
  EXPECT_EQ(tok.pad_id(), 1);
  EXPECT_EQ(tok.unk_id(), 4);
  EXPECT_EQ(tok.encode("Hello worlds!", 512), (std::vector<int32_t>{0, 5, 6, 7, 8, 2}));
  EXPECT_EQ(tok.encode("hello   <mask> zz </s>", 512), (std::vector<int32_t>{0, 5, 9, 4, 2, 2}));
  // [CLS] is no added token here: lowercased and split, "[", "cls", "]" are unknown.
  EXPECT_EQ(tok.encode("[CLS] hello", 512), (std::vector<int32_t>{0, 4, 4, 4, 5, 2}));
  EXPECT_EQ(tok.encode("hello world hello", 4), (std::vector<int32_t>{0, 5, 6, 2}));
  const TokenBatch b = pad_batch({tok.encode("hello", 8), tok.encode("hello world!", 8)}, tok.pad_id());
  EXPECT_TRUE(b.input_ids.equal(at::tensor({0, 5, 2, 1, 1, 0, 5, 6, 8, 2}, at::kLong).view({2, 5})));
}

TEST(Tokenizer, MpnetSpecialTokensFromTokenizerJson) {
  const json templ = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                  {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
      {"pair", json::array()},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {0}}, {"tokens", {"<s>"}}}},
                          {"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}};
  const json roberta = {{"type", "RobertaProcessing"}, {"sep", {"</s>", 2}}, {"cls", {"<s>", 0}},
                        {"trim_offsets", true}, {"add_prefix_space", false}};
  for (const json& pp : {templ, roberta}) {
    test::TempDir dir;
    write_json(dir.file("tokenizer.json"), mpnet_tokenizer_json(pp));
    write_json(dir.file("tokenizer_config.json"), {{"tokenizer_class", "MPNetTokenizer"}, {"do_lower_case", true}});
    write_json(dir.file("special_tokens_map.json"), kMpnetSpecialTokensMap);
    SCOPED_TRACE(pp["type"].get<std::string>());
    expect_mpnet_ids(Tokenizer::load(dir.path()));
  }
}

TEST(Tokenizer, MpnetSpecialTokensFromVocabTxt) {
  // vocab.txt alone with tokenizer_class MPNetTokenizer: its defaults <s> </s> <pad> [UNK]
  // <mask> (lstrip), as transformers' MPNetTokenizer has them.
  test::TempDir dir;
  test::write_text(dir.file("vocab.txt"), "<s>\n<pad>\n</s>\n<unk>\n[UNK]\nhello\nworld\n##s\n!\n<mask>\n[CLS]\n[SEP]\n");
  write_json(dir.file("tokenizer_config.json"), {{"tokenizer_class", "MPNetTokenizer"}});
  expect_mpnet_ids(Tokenizer::load(dir.path()));
}

TEST(Tokenizer, ConfigFilesDecideCaseHandling) {
  test::TempDir dir;
  fs::copy_file(repo_vocab(), dir.file("vocab.txt"));
  write_json(dir.file("tokenizer_config.json"), {{"do_lower_case", false}});
  const Tokenizer cased = Tokenizer::load(dir.path());
  EXPECT_FALSE(cased.do_lower_case());
  EXPECT_EQ(cased.tokenize("Hello"), (std::vector<std::string>{"[UNK]"}));  // uncased vocab: no "H"
  // strip_accents follows do_lower_case: the accent stays.
  EXPECT_NE(cased.tokenize("caf\xC3\xA9"), (std::vector<std::string>{"cafe"}));
  EXPECT_NE(cased.fingerprint(), Tokenizer::from_vocab_file(repo_vocab()).fingerprint());
  // strip_accents true without lowercasing.
  write_json(dir.file("tokenizer_config.json"), {{"do_lower_case", false}, {"strip_accents", true}});
  EXPECT_EQ(Tokenizer::load(dir.path()).tokenize("caf\xC3\xA9"), (std::vector<std::string>{"cafe"}));
  // sentence_bert_config.json do_lower_case: sentence-transformers lowercases with Python's
  // str.lower() first ('ΟΔΟΣ'.lower() == 'οδος', the final sigma U+03C2).
  write_json(dir.file("tokenizer_config.json"), {{"do_lower_case", false}});
  write_json(dir.file("sentence_bert_config.json"), {{"max_seq_length", 128}, {"do_lower_case", true}});
  const Tokenizer st_lower = Tokenizer::load(dir.path());
  EXPECT_EQ(st_lower.tokenize("Hello"), (std::vector<std::string>{"hello"}));
  EXPECT_EQ(st_lower.encode("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", 64), cased.encode("\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82", 64));
}

TEST(Tokenizer, TokenizerConfigOverridesTheTokenizerJsonNormalizer) {
  DT_REQUIRE_DATA("all-MiniLM-L6-v2/tokenizer.json");
  test::TempDir dir;
  fs::copy_file(minilm_dir() + "/tokenizer.json", dir.file("tokenizer.json"));
  write_json(dir.file("tokenizer_config.json"), {{"do_lower_case", false}});
  EXPECT_FALSE(Tokenizer::load(dir.path()).do_lower_case());  // as BertTokenizerFast rebuilds it
  fs::remove(dir.file("tokenizer_config.json"));
  EXPECT_TRUE(Tokenizer::load(dir.path()).do_lower_case());
}

TEST(Tokenizer, FingerprintIsStableAndSensitive) {
  const Tokenizer a = Tokenizer::from_vocab_file(repo_vocab());
  EXPECT_EQ(a.fingerprint(), Tokenizer::from_vocab_file(repo_vocab()).fingerprint());
  EXPECT_EQ(a.fingerprint().size(), 32u);
  test::TempDir dir;
  std::string v = test::read_text(repo_vocab());
  v.replace(v.find("\nhello\n"), 7, "\nhellp\n");
  test::write_text(dir.file("vocab.txt"), v);
  EXPECT_NE(Tokenizer::from_vocab_file(dir.file("vocab.txt")).fingerprint(), a.fingerprint());
}

// --- errors ----------------------------------------------------------------------------

TEST(Tokenizer, ErrorsNameTheFileAndWhatWasExpected) {
  test::TempDir dir;
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.file("nope")); }),
            "model directory '" + dir.file("nope") + "' does not exist");
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            "model directory '" + dir.path() + "' has no tokenizer: expected tokenizer.json or vocab.txt");
  EXPECT_EQ(error_of([&] { Tokenizer::from_vocab_file(dir.file("v.txt")); }),
            dir.file("v.txt") + ": vocabulary file does not exist");

  test::write_text(dir.file("vocab.txt"), "[PAD]\n[CLS]\n[SEP]\nhello\n");
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            dir.file("vocab.txt") + ": the unk_token '[UNK]' (the BertTokenizer default) is not in the vocabulary");
  test::write_text(dir.file("vocab.txt"), "[PAD]\n[UNK]\n[SEP]\nhello\n");
  write_json(dir.file("special_tokens_map.json"), {{"cls_token", "[CLS]"}});
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            dir.file("vocab.txt") + ": the cls_token '[CLS]' (named in " + dir.file("special_tokens_map.json") + ") is not in the vocabulary");
  write_json(dir.file("special_tokens_map.json"), {{"cls_token", 7}});
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            dir.file("special_tokens_map.json") + ": key 'cls_token' must be a token string or an object with \"content\" (found number)");
  fs::remove(dir.file("special_tokens_map.json"));

  const std::string tj = dir.file("tokenizer.json");
  test::write_text(tj, "{\n  \"model\": {\n    \"vocab\": {\"a\": 0,}\n  }\n}\n");
  const std::string bad_json = error_of([&] { Tokenizer::load(dir.path()); });
  EXPECT_EQ(bad_json.rfind(tj + ": not valid JSON: parse error at line 3", 0), 0u) << bad_json;

  json j = mpnet_tokenizer_json(nullptr);
  j["model"]["vocab"] = json::array({"a", "b"});
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": key 'model.vocab' must be an object of token -> id (found array)");
  j = mpnet_tokenizer_json(nullptr);
  j["model"]["vocab"]["hello"] = -3;
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": key 'model.vocab.hello' must be a token id (an integer >= 0)");
  j = mpnet_tokenizer_json(nullptr);
  j["model"]["vocab"].erase("[UNK]");
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": the unknown token '[UNK]' is not in the vocabulary (WordPiece maps unmatched words to it)");
  j = mpnet_tokenizer_json(nullptr);
  j["model"] = {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", json::array()}};
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": model.type is 'BPE': disttune supports WordPiece tokenizers only (BERT, MPNet, bge, e5, MiniLM, ...), not BPE");
  j["model"] = {{"type", "Unigram"}, {"vocab", json::array()}};
  write_json(tj, j);
  EXPECT_NE(error_of([&] { Tokenizer::load(dir.path()); }).find("model.type is 'Unigram'"), std::string::npos);
  j["model"] = {{"vocab", {{"a", 0}}}, {"merges", json::array()}};  // untagged BPE
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": key 'model.type' is missing and the model is not a WordPiece model");
  j = mpnet_tokenizer_json(nullptr);
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array()}};
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": key 'normalizer.type' is 'Sequence'; disttune supports BertNormalizer (or null)");
  j = mpnet_tokenizer_json(nullptr);
  j["normalizer"]["lowercase"] = "yes";
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": key 'normalizer.lowercase' must be true or false (found string)");
  j = mpnet_tokenizer_json(nullptr);
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": key 'pre_tokenizer' is 'Metaspace'; disttune supports BertPreTokenizer");
  j = mpnet_tokenizer_json({{"type", "ByteLevel"}});
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": key 'post_processor.type' is 'ByteLevel'; supported: TemplateProcessing, BertProcessing, RobertaProcessing");
  j = mpnet_tokenizer_json({{"type", "BertProcessing"}, {"cls", {"<s>", 0}}, {"sep", {"</s>", 99}}});
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": the post-processor special token id 99 is outside the vocabulary (12 ids)");
}

// Found by fuzzing (disttune_fuzz tokenizer_files) or reviewed with it: numbers no double
// holds, nesting that would overflow the stack, and ids that would size the id table (and
// the model's embedding) far beyond the tokens a file defines.
TEST(Tokenizer, HostileTokenizerFilesAreRefusedCleanly) {
  test::TempDir dir;
  const std::string tj = dir.file("tokenizer.json");
  std::string text = mpnet_tokenizer_json(nullptr).dump();
  text.insert(text.rfind('}'), ", \"extra\": -1e309");
  test::write_text(tj, text);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": not valid JSON: number overflow parsing '-1e309'");
  test::write_text(tj, "{\"model\": " + std::string(200000, '[') + std::string(200000, ']') + "}");
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }), tj + ": nests deeper than 128 levels");
  test::write_text(tj, std::string(129, '[') + std::string(129, ']'));
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }), tj + ": nests deeper than 128 levels");

  json j = mpnet_tokenizer_json(nullptr);
  j["model"]["vocab"]["far"] = 2147483647;
  write_json(tj, j);
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            tj + ": token id 2147483647 is far beyond the 18 tokens the tokenizer files define (at "
                 "most 1024 unused ids are allowed)");
  j = mpnet_tokenizer_json(nullptr);
  j["added_tokens"].push_back({{"id", 1100}, {"content", "<far>"}, {"special", true}});
  write_json(tj, j);
  EXPECT_NE(error_of([&] { Tokenizer::load(dir.path()); }).find("token id 1100 is far beyond"), std::string::npos);
  j["added_tokens"].back()["id"] = 1000;  // a gap, as some real files have, is fine
  write_json(tj, j);
  EXPECT_EQ(Tokenizer::load(dir.path()).vocab_size(), 1001);
  fs::remove(tj);

  // vocab.txt layout: added_tokens_decoder keyed by INT32_MAX (an int32 overflow before).
  test::write_text(dir.file("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n");
  write_json(dir.file("tokenizer_config.json"),
             {{"added_tokens_decoder", {{"2147483647", {{"content", "<x>"}, {"special", true}}}}}});
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            dir.file("vocab.txt") + ": token id 2147483647 is far beyond the 12 tokens the tokenizer "
                                    "files define (at most 1024 unused ids are allowed)");
  test::write_text(dir.file("tokenizer_config.json"), "{\"do_lower_case\": 1e999}");
  EXPECT_EQ(error_of([&] { Tokenizer::load(dir.path()); }),
            dir.file("tokenizer_config.json") + ": not valid JSON: number overflow parsing '1e999'");
}

}  // namespace
}  // namespace disttune
