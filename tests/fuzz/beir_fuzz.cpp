// Retrieval set targets.
//  - beir: the bytes are a BEIR directory's corpus.jsonl, queries.jsonl and qrels/test.tsv
//    (separated by kPartSeparator), read by read_beir; the corpus alone also by
//    read_corpus_texts.
//  - qrels: the bytes are a qrels file, read by read_ir_files against a fixed small corpus
//    and query file.
// An IrSet that loads is checked against what the evaluator relies on: parallel arrays of
// equal length, relevant indices inside the corpus, sorted and unique, report counts that
// match the set.
#include "data/beir.h"
#include "fuzz.h"

namespace disttune::fuzz {
namespace {

void check_ir_set(const char* target, const IrSet& s, const IrReadReport& r) {
  if (s.query_ids.size() != s.queries.size() || s.queries.size() != s.relevant.size())
    bug(target, "queries, their ids and their relevance lists differ in length");
  if (s.corpus_ids.size() != s.corpus.size()) bug(target, "documents and their ids differ in length");
  int64_t pairs = 0, without = 0;
  for (const auto& rel : s.relevant) {
    for (size_t i = 0; i < rel.size(); ++i) {
      if (rel[i] < 0 || rel[i] >= static_cast<int64_t>(s.corpus.size()))
        bug(target, str_cat("relevant document index ", rel[i], " outside the corpus"));
      if (i > 0 && rel[i] <= rel[i - 1]) bug(target, "relevant documents not sorted and unique");
    }
    pairs += static_cast<int64_t>(rel.size());
    without += rel.empty() ? 1 : 0;
  }
  if (r.corpus_docs != static_cast<int64_t>(s.corpus.size()) ||
      r.queries != static_cast<int64_t>(s.queries.size()) || r.relevant_pairs != pairs ||
      r.queries_without_relevant != without || r.queries > r.queries_in_file)
    bug(target, str_cat("the read report does not match the set: ", r.summary()));
}

void fuzz_beir(std::string_view input) {
  const std::vector<std::string_view> parts = split_parts(input, 3);
  const char* const names[] = {"beir/corpus.jsonl", "beir/queries.jsonl", "beir/qrels/test.tsv"};
  for (size_t i = 0; i < 3; ++i) {
    if (i < parts.size()) {
      write_scratch(names[i], parts[i]);
    } else {
      remove_scratch(names[i]);
    }
  }
  try {
    const std::vector<std::string> texts = read_corpus_texts(scratch_dir() + "/beir/corpus.jsonl");
    note_outcome("ok");
    (void)texts;
  } catch (const UserError& e) {
    note_outcome(e.what());
  }
  IrReadReport report;
  const IrSet s = read_beir(scratch_dir() + "/beir", "test", &report);
  check_ir_set("beir", s, report);
}

std::vector<std::string> beir_seeds() {
  const std::string corpus =
      R"({"_id": "d1", "title": "Bonds", "text": "A bond is a loan to a company."}
{"_id": "d2", "title": "", "text": "Stocks are shares of a company."}
{"_id": 3, "text": "caf\u00e9 \ud83d\ude00"}
{"_id": "d4", "title": null, "text": "no title"}
)";
  const std::string queries = R"({"_id": "q1", "text": "what is a bond?"}
{"_id": 2, "text": "what is a stock?"}
{"_id": "q3", "text": "unjudged"}
)";
  const std::string qrels = "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\n2\td2\t2\n2\t3\t0\nq9\td1\t1\nq1\tdx\t1\n2\td2\t1.5\n";
  return {join_parts({corpus, queries, qrels}),
          join_parts({corpus, queries, "q1\td1\t1\n"}),
          join_parts({R"({"_id": "d1", "text": "x"})" "\n" R"({"_id": "d1", "text": "dup"})",
                      queries, qrels}),
          join_parts({"{\"_id\": \"d1\", \"title\": 5, \"text\": \"x\"}\n", queries, qrels}),
          join_parts({corpus, queries})};
}

// --- qrels -----------------------------------------------------------------------------

struct QrelsFiles {
  std::string corpus, queries;
};

const QrelsFiles& qrels_files() {
  static const QrelsFiles f = [] {
    QrelsFiles q;
    std::string corpus, queries;
    for (int i = 0; i < 20; ++i) {
      corpus += str_cat("{\"_id\": \"d", i, "\", \"title\": \"t", i, "\", \"text\": \"document ", i, "\"}\n");
      if (i < 10) queries += str_cat("{\"_id\": \"q", i, "\", \"text\": \"query ", i, "\"}\n");
    }
    corpus += "{\"_id\": 20, \"text\": \"integer id\"}\n";
    queries += "{\"_id\": 10, \"text\": \"integer id\"}\n";
    q.corpus = write_scratch("qrels-set/corpus.jsonl", corpus);
    q.queries = write_scratch("qrels-set/queries.jsonl", queries);
    return q;
  }();
  return f;
}

void fuzz_qrels(std::string_view input) {
  const QrelsFiles& f = qrels_files();
  const std::string qrels = write_scratch("qrels-set/test.tsv", input);
  IrReadReport report;
  const IrSet s = read_ir_files(f.corpus, f.queries, qrels, &report);
  check_ir_set("qrels", s, report);
}

std::vector<std::string> qrels_seeds() {
  return {"query-id\tcorpus-id\tscore\nq0\td0\t1\nq0\td1\t0\nq1\td2\t2\nq1\td2\t0\n10\t20\t1\n",
          "q0\td0\t1\r\nq2\td5\t1.5\r\nq3\td7\t-1\r\n",
          "query-id\tcorpus-id\tscore\n", "q0\td0\t 1 \nq9\td0\t1\nq0\tdx\t1\n",
          "q0 d0 1\nq0\td0\n", "q0\td0\t1e400\n", "\n\n"};
}

}  // namespace

DT_FUZZ_TARGET(beir, "beir", "BEIR corpus.jsonl / queries.jsonl / qrels reader (read_beir)",
               fuzz_beir, beir_seeds, 8192,
               "\n%%%%\n", "\"_id\"", "\"title\"", "\"text\"", "\t", "\r\n", "\n", "{", "}", "\"",
               "null", "1e400", "-0", "d1", "q1", "query-id\tcorpus-id\tscore\n", "\xFF");
DT_FUZZ_TARGET(qrels, "qrels", "qrels TSV reader (read_ir_files against a fixed corpus and queries)",
               fuzz_qrels, qrels_seeds, 4096,
               "\t", "\r\n", "\n", "q0", "d0", "10", "20", "1e400", "nan", "inf", "-1", " ",
               "query-id\tcorpus-id\tscore\n", "\xFF");

}  // namespace disttune::fuzz
