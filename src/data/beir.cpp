#include "data/beir.h"

#include <glog/logging.h>
#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <sstream>
#include <unordered_map>

#include "common/check.h"
#include "data/byte_stream.h"
#include "data/json_rows.h"
#include "data/utf8.h"

namespace disttune {

bool IrReadReport::clean() const {
  return unknown_query_rows == 0 && unknown_doc_rows == 0 && queries_without_relevant == 0;
}

std::string IrReadReport::summary() const {
  std::ostringstream os;
  os << corpus_docs << " documents, " << queries << " queries (of " << queries_in_file
     << " in the queries file), " << relevant_pairs << " relevant pairs from " << qrels_rows
     << " qrels rows";
  if (unknown_query_rows) os << "; " << unknown_query_rows << " qrels rows name unknown queries";
  if (unknown_doc_rows) os << "; " << unknown_doc_rows << " qrels rows name unknown documents";
  if (queries_without_relevant)
    os << "; " << queries_without_relevant << " queries have no relevant document";
  if (!examples.empty()) os << " (first: " << examples.front() << ")";
  return os.str();
}

namespace {

// A string (or integer) field of a JSONL object; `required` text may not be missing.
std::string json_text(const JsonCell& c, const std::string& path, int64_t line,
                      const char* key, bool id) {
  if (c.kind == JsonKind::String || (id && c.kind == JsonKind::Integer)) {
    if (id && c.text.empty()) DT_FAIL(path, ":", line, ": '", key, "' is empty");
    return c.text;
  }
  if (c.kind == JsonKind::Missing) DT_FAIL(path, ":", line, ": missing '", key, "'");
  DT_FAIL(path, ":", line, ": '", key, "': expected ", id ? "a string or an integer" : "a string",
          ", got ", json_kind_name(c.kind));
}

// Calls fn(row) for every object of a JSONL file; any unparsable line is an error.
template <typename Fn>
void for_each_object(const std::string& path, const std::vector<std::string>& keys, Fn fn) {
  ByteStream in(path);
  JsonRowReader reader(keys);
  std::string line;
  JsonRow row;
  int64_t line_no = 0;
  while (in.read_line(&line)) {
    ++line_no;
    if (is_blank(line)) continue;
    reader.parse_line(line, line_no, &row);
    switch (row.problem) {
      case JsonRow::Problem::None: break;
      case JsonRow::Problem::InvalidUtf8:
        DT_FAIL(path, ":", line_no, ": invalid UTF-8",
                row.problem_key.empty() ? std::string(" in a key")
                                        : str_cat(" in '", row.problem_key, "'"));
      default: DT_FAIL(path, ":", line_no, ": ", row.message);
    }
    fn(row);
  }
}

void require_file(const std::string& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    DT_FAIL(path, ": no such file (", what, ")");
}

// title + " " + text (the BEIR rule), checking the types of both.
std::string document_text(const JsonRow& row, const std::string& path, size_t title_cell) {
  const JsonCell& title = row.cells[title_cell];
  if (title.kind != JsonKind::Missing && title.kind != JsonKind::Null &&
      title.kind != JsonKind::String)
    DT_FAIL(path, ":", row.line, ": 'title': expected a string, got ", json_kind_name(title.kind));
  std::string text = json_text(row.cells[title_cell + 1], path, row.line, "text", false);
  return title.kind == JsonKind::String && !title.text.empty() ? title.text + " " + text
                                                               : std::move(text);
}

}  // namespace

std::vector<std::string> read_corpus_texts(const std::string& path) {
  require_file(path, "corpus");
  std::vector<std::string> texts;
  for_each_object(path, {"title", "text"},
                  [&](const JsonRow& row) { texts.push_back(document_text(row, path, 0)); });
  return texts;
}

IrSet read_ir_files(const std::string& corpus_path, const std::string& queries_path,
                    const std::string& qrels_path, IrReadReport* report_out) {
  IrReadReport report;
  IrSet s;

  std::unordered_map<std::string, int64_t> doc_index;  // id -> corpus index
  std::vector<int64_t> doc_line;
  for_each_object(corpus_path, {"_id", "title", "text"}, [&](const JsonRow& row) {
    std::string id = json_text(row.cells[0], corpus_path, row.line, "_id", true);
    std::string text = document_text(row, corpus_path, 1);
    const auto [it, fresh] = doc_index.emplace(id, static_cast<int64_t>(s.corpus.size()));
    if (!fresh)
      DT_FAIL(corpus_path, ":", row.line, ": duplicate _id '", id, "' (first on line ",
              doc_line[static_cast<size_t>(it->second)], ")");
    doc_line.push_back(row.line);
    s.corpus_ids.push_back(std::move(id));
    s.corpus.push_back(std::move(text));
  });

  struct Query {
    std::string id, text;
    int64_t line;
  };
  std::vector<Query> all_queries;
  std::unordered_map<std::string, int64_t> query_index;  // id -> all_queries index
  for_each_object(queries_path, {"_id", "text"}, [&](const JsonRow& row) {
    std::string id = json_text(row.cells[0], queries_path, row.line, "_id", true);
    std::string text = json_text(row.cells[1], queries_path, row.line, "text", false);
    const auto [it, fresh] = query_index.emplace(id, static_cast<int64_t>(all_queries.size()));
    if (!fresh)
      DT_FAIL(queries_path, ":", row.line, ": duplicate _id '", id, "' (first on line ",
              all_queries[static_cast<size_t>(it->second)].line, ")");
    all_queries.push_back({std::move(id), std::move(text), row.line});
  });

  // qrels: per query (index into all_queries), document -> last score.
  std::vector<std::map<int64_t, double>> judged(all_queries.size());
  std::vector<bool> named(all_queries.size(), false);
  {
    ByteStream in(qrels_path);
    std::string line;
    int64_t line_no = 0;
    bool first = true;
    std::vector<std::string> f;
    while (in.read_line(&line)) {
      ++line_no;
      if (is_blank(line)) continue;
      f.clear();
      size_t start = 0;
      while (true) {
        const size_t tab = line.find('\t', start);
        f.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
        if (tab == std::string::npos) break;
        start = tab + 1;
      }
      if (f.size() != 3)
        DT_FAIL(qrels_path, ":", line_no, ": expected 3 tab-separated fields "
                "(query-id, corpus-id, score), got ", f.size());
      double score = 0;
      const char* b = f[2].data();
      const char* e = b + f[2].size();
      while (b != e && *b == ' ') ++b;
      while (e != b && e[-1] == ' ') --e;
      const auto r = std::from_chars(b, e, score);
      const bool numeric = b != e && r.ec == std::errc() && r.ptr == e && std::isfinite(score);
      if (first) {
        first = false;
        if (!numeric) continue;  // the header line
      }
      if (!numeric)
        DT_FAIL(qrels_path, ":", line_no, ": score: expected a number, got '", f[2], "'");
      report.qrels_rows++;
      const auto q = query_index.find(f[0]);
      if (q == query_index.end()) {
        report.unknown_query_rows++;
        if (report.examples.size() < 3)
          report.examples.push_back(str_cat(qrels_path, ":", line_no, ": unknown query id '", f[0], "'"));
        continue;
      }
      named[static_cast<size_t>(q->second)] = true;
      const auto d = doc_index.find(f[1]);
      if (d == doc_index.end()) {
        report.unknown_doc_rows++;
        if (report.examples.size() < 3)
          report.examples.push_back(str_cat(qrels_path, ":", line_no, ": unknown corpus id '", f[1], "'"));
        continue;
      }
      judged[static_cast<size_t>(q->second)][d->second] = score;
    }
  }

  for (size_t qi = 0; qi < all_queries.size(); ++qi) {
    if (!named[qi]) continue;
    std::vector<int64_t> rel;
    for (const auto& [doc, score] : judged[qi])
      if (score > 0) rel.push_back(doc);  // std::map: sorted, unique
    if (rel.empty()) report.queries_without_relevant++;
    report.relevant_pairs += static_cast<int64_t>(rel.size());
    s.query_ids.push_back(std::move(all_queries[qi].id));
    s.queries.push_back(std::move(all_queries[qi].text));
    s.relevant.push_back(std::move(rel));
  }
  report.corpus_docs = static_cast<int64_t>(s.corpus.size());
  report.queries_in_file = static_cast<int64_t>(all_queries.size());
  report.queries = static_cast<int64_t>(s.queries.size());
  if (!report.clean()) LOG(WARNING) << qrels_path << ": " << report.summary();
  if (report_out) *report_out = std::move(report);
  return s;
}

IrSet read_beir(const std::string& dir, const std::string& split, IrReadReport* report) {
  const std::string corpus = dir + "/corpus.jsonl";
  const std::string queries = dir + "/queries.jsonl";
  const std::string qrels = dir + "/qrels/" + split + ".tsv";
  require_file(corpus, "a BEIR directory has corpus.jsonl");
  require_file(queries, "a BEIR directory has queries.jsonl");
  require_file(qrels, str_cat("the qrels of split '", split, "'"));
  return read_ir_files(corpus, queries, qrels, report);
}

}  // namespace disttune
