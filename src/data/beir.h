// Retrieval evaluation sets from files: the BEIR layout (corpus.jsonl, queries.jsonl,
// qrels/<split>.tsv) or three separate files in those formats.
//
//  - corpus.jsonl: {"_id", "title" (optional), "text"}; the document text is
//    title + " " + text when the title is not empty, else text.
//  - queries.jsonl: {"_id", "text"}.
//  - qrels: tab-separated "query-id corpus-id score", with or without that header line,
//    CRLF tolerated; score > 0 means relevant (binary relevance, as sentence-transformers'
//    InformationRetrievalEvaluator). A pair listed twice keeps its last score.
// Ids may be JSON strings or integers. The queries kept are those the qrels name (as BEIR's
// loader does), in queries.jsonl order; the whole corpus is kept.
//
// Structural errors (unreadable or malformed lines, a missing _id or text, an id used twice
// in one file) throw UserError naming file:line. Inconsistencies between the files are
// counted, not fatal: qrels rows naming a query or document that does not exist, and kept
// queries left with no relevant document (the evaluator skips those).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/ir_set.h"

namespace disttune {

struct IrReadReport {
  int64_t corpus_docs = 0;
  int64_t queries_in_file = 0;     // queries in the queries file
  int64_t queries = 0;             // queries named by the qrels and kept
  int64_t qrels_rows = 0;          // data rows in the qrels file
  int64_t relevant_pairs = 0;      // distinct (query, document) pairs with score > 0 kept
  int64_t unknown_query_rows = 0;  // qrels rows whose query id is not in the queries file
  int64_t unknown_doc_rows = 0;    // qrels rows whose document id is not in the corpus
  int64_t queries_without_relevant = 0;
  std::vector<std::string> examples;  // file:line of the first few unknown ids
  // True when nothing was inconsistent between the files.
  bool clean() const;
  std::string summary() const;
};

IrSet read_ir_files(const std::string& corpus, const std::string& queries,
                    const std::string& qrels, IrReadReport* report = nullptr);

// The document texts of a corpus JSON-lines file: objects with "text" and optionally "title"
// (and "_id", not needed here); title + " " + text when the title is not empty, as above.
// A BEIR corpus.jsonl qualifies. Throws UserError naming file:line.
std::vector<std::string> read_corpus_texts(const std::string& path);

// dir/corpus.jsonl, dir/queries.jsonl, dir/qrels/<split>.tsv.
IrSet read_beir(const std::string& dir, const std::string& split,
                IrReadReport* report = nullptr);

}  // namespace disttune
