// disttune encode: texts -> an HDF5 file of embeddings (embed/embedding_file.h has the
// layout). Every rank reads the input and embeds its share of the job-wide length-sorted
// batch grid (Embedder::encode_shard), so each embedding is the same bits at any world size;
// rank 0 gathers the shards and writes one file in input order, atomically.
//
// Inputs: .jsonl/.ndjson/.json/.csv/.tsv rows with the --field column and, when present, an
// id column (--id-field, default: 'id', else '_id', else none); or .txt, one text per line.
// A BEIR corpus (JSON lines with _id, title and text, --field left at text) is embedded as
// `disttune eval` embeds it: title + " " + text when the title is not empty.
// --model is a model directory or a YAML config with a model section (cli/model_arg.h).
// Prompts as sentence-transformers' encode: --prompt TEXT, or --prompt-name NAME (a prompt
// of the model's config_sentence_transformers.json), else the model's default prompt if it
// names one.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <unordered_map>

#include "cli/commands.h"
#include "cli/model_arg.h"
#include "cli/output_path.h"
#include "common/log.h"
#include "data/beir.h"
#include "data/byte_stream.h"
#include "data/delimited_reader.h"
#include "data/json_rows.h"
#include "data/text_dataset.h"
#include "data/utf8.h"
#include "dist/dist.h"
#include "embed/embedder.h"
#include "embed/embedding_file.h"
#include "model/encoder_config.h"
#include "model/sentence_model.h"

namespace disttune {
namespace {

constexpr const char* kEncodeCmd = "disttune encode";

struct EncodeInput {
  std::vector<std::string> texts;
  std::vector<std::string> ids;  // empty when the input has none
  std::string id_column;
  std::string summary;
};

std::string lower_extension_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// .txt: every line is one text; a blank line would silently shift every later row against
// the line numbers, so it is an error.
EncodeInput read_lines(const std::string& path) {
  EncodeInput in;
  ByteStream s(path);
  std::string line;
  int64_t line_no = 0;
  while (s.read_line(&line)) {
    ++line_no;
    const size_t bad = find_invalid_utf8(line);
    if (bad != std::string::npos)
      DT_FAIL(path, ":", line_no, ": invalid UTF-8 (byte offset ", bad, ")");
    if (is_blank(line))
      DT_FAIL(path, ":", line_no, ": empty line (a .txt input holds one non-empty text per line)");
    in.texts.push_back(std::move(line));
  }
  in.summary = str_cat(in.texts.size(), " lines");
  return in;
}

// The column names of the first row (JSON keys, or the CSV/TSV header); empty when the
// file has no row.
std::vector<std::string> first_row_columns(const std::string& path, const std::string& ext) {
  if (ext == "csv" || ext == "tsv" || ext == "tab") {
    DelimitedReader r(path, ext == "csv" ? ',' : '\t');
    DelimitedRecord rec;
    if (!r.next(&rec) || !rec.error.empty()) return {};
    return rec.fields;
  }
  ByteStream s(path);
  int c = s.peek();
  while (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
    s.get();
    c = s.peek();
  }
  JsonRowReader reader({});
  JsonRow row;
  if (c == '[') {
    // A JSON list: the reader parses whole documents; keep the first element's keys.
    std::string text, line;
    while (s.read_line(&line)) text += line + "\n";
    std::vector<std::string> keys;
    bool first = true;
    try {
      reader.parse_list(text, path, [&](JsonRow& r) {
        if (first) keys = r.keys;
        first = false;
      });
    } catch (const UserError&) {
      return {};  // read_text_dataset reports it properly
    }
    return keys;
  }
  std::string line;
  int64_t n = 0;
  while (s.read_line(&line)) {
    ++n;
    if (is_blank(line)) continue;
    reader.parse_line(line, n, &row);
    return row.keys;
  }
  return {};
}

EncodeInput read_rows(const std::string& path, const std::string& ext, const std::string& field,
                      bool default_field, const std::string& id_flag) {
  std::string id_column = id_flag == "none" ? "" : id_flag;
  if (id_flag.empty()) {
    const std::vector<std::string> cols = first_row_columns(path, ext);
    for (const char* c : {"id", "_id"})
      if (c != field && std::find(cols.begin(), cols.end(), c) != cols.end()) {
        id_column = c;
        break;
      }
  }
  if (default_field && id_column == "_id" && (ext == "jsonl" || ext == "ndjson")) {
    const std::vector<std::string> cols = first_row_columns(path, ext);
    if (std::find(cols.begin(), cols.end(), "title") != cols.end()) {
      // Texts as the BEIR reader builds them; ids (checked) from the generic reader.
      EncodeInput in;
      in.texts = read_corpus_texts(path);
      TextDataset ids = read_text_dataset(path, {{"text", field}, {"id", "_id"}}, BadRowPolicy::Error);
      in.ids = std::move(ids.ids);
      DT_CHECK(in.ids.size() == in.texts.size(), path, ": ", in.ids.size(), " ids for ",
               in.texts.size(), " documents");
      in.id_column = id_column;
      in.summary = str_cat(in.texts.size(), " documents (BEIR corpus: title + text)");
      return in;
    }
  }
  std::map<std::string, std::string> mapping{{"text", field}};
  if (!id_column.empty()) mapping["id"] = id_column;
  TextDataset data = read_text_dataset(path, mapping, BadRowPolicy::Error);
  EncodeInput in;
  in.texts = std::move(data.columns[0]);
  in.ids = std::move(data.ids);
  in.id_column = id_column;
  in.summary = str_cat(data.report.rows_kept, " rows");
  return in;
}

// Ids should name rows unambiguously; a repeated one is reported, not fatal.
void warn_duplicate_ids(const EncodeInput& in, const std::string& path) {
  std::unordered_map<std::string, int64_t> seen;
  int64_t dups = 0;
  std::string first;
  for (size_t i = 0; i < in.ids.size(); ++i) {
    const auto [it, fresh] = seen.emplace(in.ids[i], static_cast<int64_t>(i));
    if (!fresh && dups++ == 0)
      first = str_cat("'", in.ids[i], "' (rows ", it->second + 1, " and ", i + 1, ")");
  }
  if (dups) warn0(path, ": ", dups, " repeated id(s) in column '", in.id_column, "', first ", first);
}

}  // namespace

int run_encode(Dist& d, const Args& args) {
  const std::string model_dir = args.get("model"), input = args.get("input"),
                    output = args.get("output"), field = args.get("field");
  const int64_t batch_size = args.get_int("batch-size");
  if (batch_size < 1) DT_FAIL(kEncodeCmd, ": --batch-size: expected an integer >= 1, got ", batch_size);
  if (args.has("prompt") && args.has("prompt-name"))
    DT_FAIL(kEncodeCmd, ": give --prompt or --prompt-name, not both");
  const std::string ext = lower_extension_of(input);
  const bool txt = ext == "txt";
  if (!txt && ext != "jsonl" && ext != "ndjson" && ext != "json" && ext != "csv" && ext != "tsv" && ext != "tab")
    DT_FAIL(kEncodeCmd, ": --input: '", input, "': unsupported file type '", ext.empty() ? "(none)" : "." + ext,
            "' (expected .jsonl, .json, .csv, .tsv, or .txt with one text per line)");
  if (txt && args.has("field")) DT_FAIL(kEncodeCmd, ": --field does not apply to a .txt input (one text per line)");
  if (txt && args.has("id-field")) DT_FAIL(kEncodeCmd, ": --id-field does not apply to a .txt input (no ids)");
  prepare_output_path(d, kEncodeCmd, "--output", output, {input});

  SentenceModel model = load_model_arg(kEncodeCmd, "--model", model_dir, num_layers_arg(kEncodeCmd, args)).model;
  Embedder embedder(model, Embedder::tokenizer_for(model));
  EncodeOptions opt;
  opt.batch_size = batch_size;
  opt.max_length = model.max_seq_length();
  if (args.has("max-length")) {
    const int64_t n = args.get_int("max-length");
    const int64_t lo = embedder.tokenizer().num_special_tokens() + 1;
    const int64_t hi = model.config().max_tokens();
    if (n < lo || n > hi)
      DT_FAIL(kEncodeCmd, ": --max-length: expected an integer in [", lo, ", ", hi,
              "] (room for the special tokens; the model's position limit), got ", n);
    opt.max_length = static_cast<int>(n);
  }
  if (args.has("prompt")) {
    opt.prefix = args.get("prompt");
  } else if (args.has("prompt-name")) {
    const std::string name = args.get("prompt-name");
    opt.prefix = model.prompt(name);
    if (opt.prefix.empty())
      DT_FAIL(kEncodeCmd, ": --prompt-name: the model in '", model_dir, "' has no prompt named '", name,
              "' (config_sentence_transformers.json \"prompts\")");
  } else {
    opt.prefix = model.default_prompt();
  }

  const EncodeInput in = txt ? read_lines(input) : read_rows(input, ext, field, !args.has("field"), args.get("id-field"));
  if (in.texts.empty()) DT_FAIL(input, ": no texts to encode");
  print0("input: ", input, ": ", in.summary,
         in.ids.empty() ? std::string(", no ids") : str_cat(", ids from column '", in.id_column, "'"));
  if (d.is_root()) warn_duplicate_ids(in, input);
  if (!opt.prefix.empty()) print0("prompt: \"", opt.prefix, "\"");

  const auto t0 = std::chrono::steady_clock::now();
  opt.progress = "encoding";
  const EncodedShard shard = embedder.encode_shard(d, in.texts, opt);
  const double encode_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  EmbeddingFileMeta meta;
  meta.model = model_dir;
  meta.architecture = model.architecture();
  meta.pooling = model.pooling();
  meta.normalize = model.normalize();
  meta.max_length = opt.max_length;
  meta.prompt = opt.prefix;
  meta.input = input;
  const int64_t n = static_cast<int64_t>(in.texts.size());
  write_embedding_file(d, output, shard, n, in.ids, meta);
  const double slowest = d.comm->all_reduce_scalar(encode_s, ReduceOp::Max);
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.1f", static_cast<double>(n) / std::max(slowest, 1e-9));
  print0("wrote ", n, " embeddings [", n, ", ", model.dim(), "]", in.ids.empty() ? "" : " with ids",
         " to ", output, " (encoding ", rate, " texts/s over ", d.world_size, " rank(s))");
  return 0;
}

}  // namespace disttune
