// IrSet: a retrieval evaluation set — queries, a corpus, and which documents are relevant
// to which query. Built from BEIR directories, from separate files, or from held-out pairs;
// consumed by the sharded IR evaluator. Relevance is binary, as in sentence-transformers'
// InformationRetrievalEvaluator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace disttune {

struct IrSet {
  std::vector<std::string> query_ids;
  std::vector<std::string> queries;      // query texts, same order as query_ids
  std::vector<std::string> corpus_ids;
  std::vector<std::string> corpus;       // document texts, same order as corpus_ids
  // relevant[q]: indices into corpus of the documents relevant to query q, sorted, unique.
  // Queries with no relevant document are kept here and skipped by the evaluator (as
  // sentence-transformers does), which counts them.
  std::vector<std::vector<int64_t>> relevant;
};

}  // namespace disttune
