// Model directory parsing: the sentence-transformers files, defaults for plain Hugging Face
// directories, and a clear error (file, key, what was expected) for everything refused.
#include "model/model_dir.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/check.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace disttune {
namespace {

std::string golden(const std::string& name) {
  return test::source_dir() + "/tests/golden/model/" + name + "/model";
}

// A writable copy of a golden model directory.
std::string copy_of(const std::string& name, const test::TempDir& tmp) {
  const std::string dst = tmp.file(name);
  fs::copy(golden(name), dst, fs::copy_options::recursive);
  return dst;
}

std::string load_error(const std::string& dir) {
  try {
    read_model_dir(dir);
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << dir << " was accepted";
  return "";
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "message: " << (haystack)

TEST(ModelDir, ReadsTheSentenceTransformersFiles) {
  ModelDir m = read_model_dir(golden("bert_f16"));
  EXPECT_EQ(m.encoder.architecture, "bert");
  EXPECT_EQ(m.encoder.hidden_size, 40);
  EXPECT_EQ(m.encoder.num_attention_heads, 5);
  EXPECT_DOUBLE_EQ(m.encoder.layer_norm_eps, 1e-5);
  EXPECT_EQ(m.pooling, "cls");
  EXPECT_FALSE(m.normalize);
  EXPECT_EQ(m.max_seq_length, 56);
  EXPECT_FALSE(m.do_lower_case);
  EXPECT_EQ(m.prompts.at("query"), "query: ");
  EXPECT_EQ(m.prompts.at("passage"), "passage: ");
  EXPECT_EQ(m.similarity_fn_name, "cosine");
  EXPECT_EQ(m.weights_path, golden("bert_f16") + "/model.safetensors");

  ModelDir p = read_model_dir(golden("mpnet_f32"));
  EXPECT_EQ(p.encoder.architecture, "mpnet");
  EXPECT_EQ(p.encoder.relative_attention_num_buckets, 32);
  EXPECT_EQ(p.encoder.max_tokens(), 138);
  EXPECT_EQ(p.pooling, "mean");
  EXPECT_TRUE(p.normalize);
}

TEST(ModelDir, ReadsTheRealMiniLmConfiguration) {
  DT_REQUIRE_DATA("all-MiniLM-L6-v2/config.json");
  const std::string d = test::data_dir() + "/all-MiniLM-L6-v2";
  test::TempDir tmp;
  // The shared copy has no weights; configuration parsing is what is checked here.
  for (const auto& e : fs::directory_iterator(d))
    if (e.is_regular_file()) fs::copy(e.path(), tmp.file(e.path().filename().string()));
  fs::copy(d + "/1_Pooling", tmp.file("1_Pooling"), fs::copy_options::recursive);
  test::write_text(tmp.file("model.safetensors"), "");
  ModelDir m = read_model_dir(tmp.path());
  EXPECT_EQ(m.encoder.architecture, "bert");
  EXPECT_EQ(m.encoder.hidden_size, 384);
  EXPECT_EQ(m.encoder.num_hidden_layers, 6);
  EXPECT_EQ(m.encoder.num_attention_heads, 12);
  EXPECT_EQ(m.encoder.intermediate_size, 1536);
  EXPECT_EQ(m.encoder.vocab_size, 30522);
  EXPECT_EQ(m.pooling, "mean");
  EXPECT_TRUE(m.normalize);
  EXPECT_EQ(m.max_seq_length, 256);
  EXPECT_TRUE(m.prompts.empty());
}

TEST(ModelDir, PlainHuggingFaceDirectoryMeansMeanPooling) {
  test::TempDir tmp;
  const std::string d = copy_of("bert_f32", tmp);
  fs::remove(d + "/modules.json");
  fs::remove_all(d + "/1_Pooling");
  fs::remove(d + "/sentence_bert_config.json");
  fs::remove(d + "/config_sentence_transformers.json");
  ModelDir m = read_model_dir(d);
  EXPECT_EQ(m.pooling, "mean");
  EXPECT_FALSE(m.normalize);
  EXPECT_EQ(m.max_seq_length, 0);
}

TEST(ModelDir, UnknownArchitectureIsNamed) {
  test::TempDir tmp;
  const std::string d = copy_of("bert_f32", tmp);
  test::write_text(d + "/config.json", R"({"architectures": ["RobertaModel"], "model_type": "roberta"})");
  std::string msg = load_error(d);
  EXPECT_HAS(msg, d + "/config.json");
  EXPECT_HAS(msg, "model_type 'roberta'");
  EXPECT_HAS(msg, "RobertaModel");
  test::write_text(d + "/config.json", R"({"architectures": ["XLNetLMHeadModel"]})");
  EXPECT_HAS(load_error(d), "XLNetLMHeadModel");
  test::write_text(d + "/config.json", R"({"model_type": "bert", "hidden_size": "big"})");
  msg = load_error(d);
  EXPECT_HAS(msg, "\"hidden_size\"");
  EXPECT_HAS(msg, "expected an integer");
  test::write_text(d + "/config.json", R"({"model_type": "bert", "position_embedding_type": "relative_key"})");
  EXPECT_HAS(load_error(d), "relative_key");
  test::write_text(d + "/config.json", R"({"model_type": "bert", "hidden_size": 30, "num_attention_heads": 4})");
  EXPECT_HAS(load_error(d), "does not divide");
  test::write_text(d + "/config.json", "{\"model_type\": \"bert\",\n \"hidden_size\": }");
  msg = load_error(d);
  EXPECT_HAS(msg, "not valid JSON");
  EXPECT_HAS(msg, "line 2");
}

// A few MB of brackets in a config file: refused while parsing, before any message quotes
// the value (dump() recurses once per level and would overflow the stack).
TEST(ModelDir, DeeplyNestedConfigIsRefusedWithoutRecursion) {
  test::TempDir tmp;
  const std::string d = copy_of("bert_f32", tmp);
  test::write_text(d + "/config.json", "{\"model_type\": \"bert\", \"hidden_size\": " +
                                           std::string(1000000, '[') + std::string(1000000, ']') + "}");
  EXPECT_EQ(load_error(d), d + "/config.json: nests deeper than 128 levels");
  // 100 levels load; a wrong value is quoted shortly.
  test::write_text(d + "/config.json", "{\"model_type\": \"bert\", \"hidden_size\": " +
                                           std::string(100, '[') + std::string(100, ']') + "}");
  const std::string msg = load_error(d);
  EXPECT_HAS(msg, "expected an integer, got [[[[");
  EXPECT_HAS(msg, "...");
  EXPECT_LT(msg.size(), 300u) << msg;
}

TEST(ModelDir, UnsupportedModulesAndPoolingAreRefused) {
  test::TempDir tmp;
  const std::string d = copy_of("bert_f32", tmp);
  const std::string modules = test::read_text(d + "/modules.json");
  test::write_text(d + "/modules.json", R"([
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}])");
  std::string msg = load_error(d);
  EXPECT_HAS(msg, "modules.json");
  EXPECT_HAS(msg, "sentence_transformers.models.Dense");
  test::write_text(d + "/modules.json", modules);

  const std::string pooling = d + "/1_Pooling/config.json";
  test::write_text(pooling, R"({"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true})");
  msg = load_error(d);
  EXPECT_HAS(msg, pooling);
  EXPECT_HAS(msg, "exactly one");
  test::write_text(pooling, R"({"word_embedding_dimension": 32, "pooling_mode_weightedmean_tokens": true})");
  EXPECT_HAS(load_error(d), "pooling_mode_weightedmean_tokens");
  test::write_text(pooling, R"({"word_embedding_dimension": 32})");
  EXPECT_HAS(load_error(d), "no pooling_mode_* flag");
  test::write_text(pooling, R"({"word_embedding_dimension": 64, "pooling_mode_max_tokens": true})");
  EXPECT_HAS(load_error(d), "word_embedding_dimension");
  test::write_text(pooling, R"({"word_embedding_dimension": 32, "pooling_mode_lasttoken": "yes"})");
  EXPECT_HAS(load_error(d), "expected true or false");
  test::write_text(pooling, R"({"word_embedding_dimension": 32, "pooling_mode_lasttoken": true})");
  EXPECT_EQ(read_model_dir(d).pooling, "lasttoken");

  test::write_text(d + "/config_sentence_transformers.json", R"({"prompts": {"query": 3}})");
  EXPECT_HAS(load_error(d), "prompt \"query\" must be a string");
  test::write_text(d + "/config_sentence_transformers.json", R"({"prompts": {}, "default_prompt_name": "query"})");
  EXPECT_HAS(load_error(d), "default_prompt_name");
  test::write_text(d + "/sentence_bert_config.json", R"({"max_seq_length": 4096})");
  EXPECT_HAS(load_error(d), "max_seq_length");
}

TEST(ModelDir, PickleWeightsAreNeverRead) {
  test::TempDir tmp;
  const std::string d = copy_of("bert_f32", tmp);
  fs::remove(d + "/model.safetensors");
  test::write_text(d + "/pytorch_model.bin", "not even a pickle: must not be opened");
  std::string msg = load_error(d);
  EXPECT_HAS(msg, "pytorch_model.bin");
  EXPECT_HAS(msg, "never reads pickle");
  fs::remove(d + "/pytorch_model.bin");
  test::write_text(d + "/model.safetensors.index.json", "{}");
  EXPECT_HAS(load_error(d), "sharded");
  fs::remove(d + "/model.safetensors.index.json");
  EXPECT_HAS(load_error(d), "no model.safetensors");
  fs::remove(d + "/config.json");
  EXPECT_HAS(load_error(d), "no config.json");
  EXPECT_HAS(load_error(tmp.file("nowhere")), "not a directory");
}

TEST(ModelDir, WrittenConfigsReadBack) {
  test::TempDir tmp;
  ModelDir m = read_model_dir(golden("bert_f16"));
  m.pooling = "max";
  m.normalize = true;
  m.max_seq_length = 33;
  m.prompts["doc"] = "doc: ";
  const std::string out = tmp.file("out");
  ASSERT_TRUE(write_model_dir_configs(out, m).ok());
  fs::copy(golden("bert_f16") + "/model.safetensors", out + "/model.safetensors");
  ModelDir r = read_model_dir(out);
  EXPECT_EQ(r.pooling, "max");
  EXPECT_TRUE(r.normalize);
  EXPECT_TRUE(fs::is_directory(out + "/2_Normalize"));
  EXPECT_EQ(r.max_seq_length, 33);
  EXPECT_EQ(r.prompts, m.prompts);
  EXPECT_EQ(r.similarity_fn_name, "cosine");
  EXPECT_EQ(encoder_config_json(r.encoder), encoder_config_json(m.encoder));
  // Keys disttune does not interpret survive the round trip.
  EXPECT_EQ(r.st_config.at("__version__").at("sentence_transformers"), "2.2.2");
  EXPECT_EQ(r.encoder.raw.at("initializer_range"), 0.02);
}

}  // namespace
}  // namespace disttune
