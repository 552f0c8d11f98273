// disttune tokenize: {"text": ...} lines on stdin, one JSON array of token ids per line on
// stdout, exactly as the model's Hugging Face tokenizer with sentence-transformers
// truncation. Blank lines are skipped. Under mpirun only rank 0 has stdin, so rank 0 does
// the work; every rank loads the tokenizer so that a bad model directory is one error.
#include <nlohmann/json.hpp>

#include <charconv>
#include <climits>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "common/env.h"
#include "dist/dist.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace disttune {
namespace {

// sentence_bert_config.json max_seq_length, else 512 (BERT's position limit).
int default_max_length(const std::string& model_dir) {
  const std::string path = model_dir + "/sentence_bert_config.json";
  if (!Env::Default()->file_exists(path)) return 512;
  std::string data;
  Env::Default()->read_file(path, &data).throw_if_error();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(data);
  } catch (const nlohmann::json::exception& e) {
    DT_FAIL(path, ": not valid JSON: ", e.what());
  }
  if (!j.is_object() || !j.contains("max_seq_length") || j["max_seq_length"].is_null()) return 512;
  const auto& v = j["max_seq_length"];
  DT_REQUIRE(v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() <= INT_MAX, path,
             ": key 'max_seq_length' must be a positive integer");
  return static_cast<int>(v.get<int64_t>());
}

void append_ids(const std::vector<int32_t>& ids, std::string* out) {
  out->push_back('[');
  char buf[16];
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out->push_back(',');
    const auto r = std::to_chars(buf, buf + sizeof buf, ids[i]);
    out->append(buf, r.ptr);
  }
  out->append("]\n");
}

}  // namespace

int run_tokenize(Dist& d, const Args& args) {
  const std::string model = args.get("model");
  const Tokenizer tok = Tokenizer::load(model);
  int max_length;
  if (args.has("max-length")) {
    const int64_t n = args.get_int("max-length");
    DT_REQUIRE(n >= tok.num_special_tokens() && n <= INT_MAX, "disttune tokenize: --max-length: expected an integer >= ",
               tok.num_special_tokens(), " (room for the special tokens), got ", n);
    max_length = static_cast<int>(n);
  } else {
    max_length = default_max_length(model);
  }
  if (!d.is_root()) return 0;

  constexpr size_t kChunk = 4096;  // lines encoded together (in parallel)
  std::vector<std::string> texts;
  std::string out, line, error;
  int64_t line_no = 0;
  bool eof = false;
  while (!eof && error.empty()) {
    texts.clear();
    while (texts.size() < kChunk) {
      if (!std::getline(std::cin, line)) {
        eof = true;
        break;
      }
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (!text::is_valid_utf8(line)) {
        error = str_cat("<stdin>:", line_no, ": not valid UTF-8 (JSON text must be UTF-8)");
        break;
      }
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {  // parse_error, out_of_range (1e400)
        std::string what = e.what();
        const size_t p = what.find("] ");
        if (p != std::string::npos) what = what.substr(p + 2);
        error = str_cat("<stdin>:", line_no, ": not valid JSON: ", what);
        break;
      }
      auto it = j.is_object() ? j.find("text") : j.end();
      if (!j.is_object() || it == j.end() || !it->is_string()) {
        error = str_cat("<stdin>:", line_no, ": expected an object with a string field \"text\"",
                        !j.is_object() ? str_cat(", found ", j.type_name())
                        : it == j.end() ? std::string(", found no \"text\"")
                                        : str_cat(", found \"text\" of type ", it->type_name()));
        break;
      }
      texts.push_back(it->get<std::string>());
    }
    // The lines before a bad one are still answered, then the error ends the command.
    const auto ids = tok.encode_batch(texts, max_length);
    out.clear();
    for (const auto& row : ids) append_ids(row, &out);
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  std::fflush(stdout);
  if (!error.empty()) DT_FAIL(error);
  return 0;
}

}  // namespace disttune
