// Data file targets: the bytes are a training / evaluation file in one format (jsonl,
// json, csv, tsv), read by read_text_dataset with the mappings sentence-transformers users
// write (pairs with ids, scored pairs, triplets, plain texts) under both bad-row policies.
// What a read that succeeds returns is checked against the reader's promises: counts that
// add up, one value per row in every column, source lines in file order, every kept text
// valid UTF-8 and not blank, every score finite.
#include <cmath>

#include "data/text_dataset.h"
#include "data/utf8.h"
#include "fuzz.h"

namespace disttune::fuzz {
namespace {

using Columns = std::map<std::string, std::string>;

struct Mapping {
  Columns columns;
  BadRowPolicy policy;
};

const std::vector<Mapping>& mappings() {
  static const std::vector<Mapping> m = {
      {{{"anchor", "anchor"}, {"positive", "positive"}, {"id", "id"}}, BadRowPolicy::Skip},
      {{{"sentence1", "s1"}, {"sentence2", "s2"}, {"score", "score"}}, BadRowPolicy::Skip},
      {{{"anchor", "anchor"}, {"positive", "positive"}, {"negative", "negative"}, {"negative_2", "neg2"}},
       BadRowPolicy::Error},
      {{{"text", "text"}, {"id", "_id"}}, BadRowPolicy::Skip},
  };
  return m;
}

void check_dataset(const char* target, const TextDataset& d) {
  const ReadReport& r = d.report;
  const int64_t n = d.size();
  if (r.rows_kept != n || r.rows_read != r.rows_kept + r.skipped_total())
    bug(target, str_cat("counts do not add up: ", r.summary(), " with ", n, " rows returned"));
  if (d.columns.size() != d.roles.size()) bug(target, "one column per role expected");
  for (const auto& col : d.columns) {
    if (static_cast<int64_t>(col.size()) != n) bug(target, "a column with a different number of rows");
    for (const auto& text : col)
      if (!is_valid_utf8(text) || is_blank(text)) bug(target, "a kept text is invalid UTF-8 or blank");
  }
  if (d.format == DataFormat::Scored) {
    if (static_cast<int64_t>(d.scores.size()) != n) bug(target, "one score per row expected");
    for (float s : d.scores)
      if (!std::isfinite(s)) bug(target, "a kept score is not finite");
  }
  if (!d.ids.empty()) {
    if (static_cast<int64_t>(d.ids.size()) != n) bug(target, "one id per row expected");
    for (const auto& id : d.ids)
      if (id.empty() || !is_valid_utf8(id)) bug(target, "a kept id is empty or invalid UTF-8");
  }
  // Rows come in file order; elements of a JSON list may share a line.
  for (int64_t i = 1; i < n; ++i)
    if (d.lines[i] < d.lines[i - 1]) bug(target, "source lines decrease");
  if (n > 0 && d.lines[0] < 1) bug(target, "source lines start below 1");
}

template <const char* kTarget, const char* kExt>
void fuzz_dataset(std::string_view input) {
  const std::string path = write_scratch(std::string("data.") + kExt, input);
  bool any_ok = false;
  std::string last_error;
  for (const Mapping& m : mappings()) {
    try {
      check_dataset(kTarget, read_text_dataset(path, m.columns, m.policy));
      note_outcome("ok");
      any_ok = true;
    } catch (const UserError& e) {
      note_outcome(e.what());
      last_error = e.what();
    }
  }
  if (!any_ok) throw UserError(last_error);
}

std::string jsonl_rows() {
  return R"({"id": 1, "anchor": "what is a bond?", "positive": "A bond is a loan.", "negative": "Stocks are shares.", "neg2": "n2", "s1": "a", "s2": "b", "score": 0.5, "text": "doc one", "_id": "d1"}
{"id": "r2", "anchor": "caf\u00e9 \ud83d\ude00", "positive": "p\u00e9", "negative": "n", "neg2": "m", "s1": "x", "s2": "y", "score": -1e-3, "text": "t", "_id": 7}

{"id": 3, "anchor": "", "positive": "   ", "score": "0.5", "s1": 1, "s2": null, "text": ["a"], "_id": {"x": 1}}
{"anchor": "nested", "positive": "ok", "extra": [1, {"a": [2, 3]}], "neg2": "x", "negative": "y", "id": 18446744073709551615}
)"
         "{\"anchor\": \"bad \xFF utf8\", \"positive\": \"p\", \"\xC3\": 1}\r\n"
         "[1, 2]\n"
         "{\"anchor\": \"unterminated\n";
}

std::string csv_rows(char d) {
  std::string h = "id,anchor,positive,negative,neg2,s1,s2,score,text,_id\r\n";
  std::string r1 = "1,what is a bond?,A bond is a loan.,Stocks,n2,a,b,0.5,doc one,d1\r\n";
  std::string r2 = "2,\"quoted, with \"\"quotes\"\"\nand a newline\",p,n,m,x,y,+1e-3,t,d2\n";
  std::string r3 = "3,\"\",  ,n,m,x,y,not a number,\"\",\r";
  std::string r4 = "4,\"ab\"c,p,n,m,x,y,1,t,d4\n";
  std::string r5 = "5,caf\xC3\xA9,bad \xFF,n,m,x,y,inf,t,d5\n\n";
  std::string r6 = "6,short,row\n";
  std::string s = "\xEF\xBB\xBF" + h + r1 + r2 + r3 + r4 + r5 + r6 + "7,\"unterminated,p,n,m,x,y,1,t,d7\n";
  if (d != ',')
    for (char& c : s)
      if (c == ',') c = d;
  return s;
}

std::vector<std::string> jsonl_seeds() {
  return {jsonl_rows(), R"({"anchor": "a", "positive": "b", "id": 1})" "\n", "\n\n", ""};
}

std::vector<std::string> json_seeds() {
  return {R"([{"id": 1, "anchor": "q", "positive": "p", "negative": "n", "neg2": "m", "s1": "a", "s2": "b", "score": 1, "text": "t", "_id": "d"},
 {"id": "x", "anchor": "caf\u00e9", "positive": "\ud83d\ude00", "score": 2.5e-1, "s1": "c", "s2": "d"},
 3, [4], {"anchor": null},
 {"anchor": "multi\nline", "positive": "p", "id": 9}])",
          R"([{"anchor": "a", "positive": "b", "id": 1}, {"anchor": "c", "positive": "d", "id": "e"}])",
          "[]", " \n[\n]\n", "{\"anchor\": \"not a list: read as JSON lines\", \"positive\": \"p\"}\n",
          "[{\"text\": \"bad \xFF\", \"_id\": 1}]"};
}

std::vector<std::string> csv_seeds() {
  return {csv_rows(','), "anchor,positive,id\nq,p,1\n", "\"a\",\"b\"\n\"c\"\n", ""};
}

std::vector<std::string> tsv_seeds() {
  return {csv_rows('\t'), "anchor\tpositive\tid\nq\tp\t1\n", "text\t_id\nt\t1\r\n", "\t\t\n"};
}

constexpr char kJsonl[] = "jsonl", kJson[] = "json", kCsv[] = "csv", kTsv[] = "tsv";

}  // namespace

#define DT_DATA_DICTIONARY                                                                         \
  "\"anchor\"", "\"positive\"", "\"negative\"", "\"neg2\"", "\"s1\"", "\"s2\"", "\"score\"",         \
      "\"text\"", "\"_id\"", "\"id\"", "anchor", "positive", "score", "_id", "\"", "\"\"", ",", "\t", \
      "\n", "\r\n", "\r", "{", "}", "[", "]", ":", "null", "true", "1e400", "-0", "\\u0000",            \
      "\\ud800", "\xEF\xBB\xBF", "\xFF", "\xC3"

DT_FUZZ_TARGET(jsonl, "jsonl", "JSON lines data reader (read_text_dataset, 4 mappings x policies)",
               (fuzz_dataset<kJsonl, kJsonl>), jsonl_seeds, 8192, DT_DATA_DICTIONARY);
DT_FUZZ_TARGET(json, "json", "JSON list data reader (read_text_dataset)",
               (fuzz_dataset<kJson, kJson>), json_seeds, 8192, DT_DATA_DICTIONARY);
DT_FUZZ_TARGET(csv, "csv", "CSV data reader (RFC 4180 quoting, read_text_dataset)",
               (fuzz_dataset<kCsv, kCsv>), csv_seeds, 8192, DT_DATA_DICTIONARY);
DT_FUZZ_TARGET(tsv, "tsv", "TSV data reader (read_text_dataset)",
               (fuzz_dataset<kTsv, kTsv>), tsv_seeds, 8192, DT_DATA_DICTIONARY);

}  // namespace disttune::fuzz
