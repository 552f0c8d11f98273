// Bm25Index: Okapi BM25 over an inverted index, scored as Lucene (8+) and bm25s "lucene":
//
//   score(q, d) = sum over query tokens t in d of  idf(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl))
//   idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))
//
// N documents, df = documents containing t, tf = occurrences of t in d, dl = tokens of d
// after analysis (analyzer.h), avgdl = mean dl. Defaults k1 = 1.5, b = 0.75. A query token
// repeated r times counts r times (as Lucene's BooleanQuery and rank_bm25 do). Unlike Lucene,
// document lengths are exact (Lucene stores them in one lossy byte), so scores can differ
// from Elasticsearch's in the third digit; the formula is the same. The (k1 + 1) factor of
// the classic form is left out, as Lucene 8 does: it scales every score alike.
//
// Search walks the postings of the query's terms only (term-at-a-time into a per-thread
// accumulator), so a query costs O(sum of its terms' document frequencies). Results hold
// the documents that share at least one term with the query, best first, at most k; equal
// scores are ordered by lower document index, so results are deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace disttune {

struct Bm25Options {
  double k1 = 1.5;
  double b = 0.75;
  bool stopwords = true;  // drop English stopwords (analyzer.h)
};

struct Bm25Hit {
  int64_t doc;
  float score;
};

class Bm25Index {
 public:
  explicit Bm25Index(const std::vector<std::string>& docs, Bm25Options options = {});

  int64_t num_docs() const { return static_cast<int64_t>(doc_len_.size()); }
  int64_t num_terms() const { return static_cast<int64_t>(idf_.size()); }
  int64_t num_postings() const { return static_cast<int64_t>(post_docs_.size()); }
  double avg_doc_length() const { return avgdl_; }
  const Bm25Options& options() const { return options_; }

  // The top k documents for one query.
  std::vector<Bm25Hit> search(std::string_view query, int64_t k) const;
  // The top k for each query; queries are spread over `threads` threads (0 = all cores).
  // Identical to calling search() for each query.
  std::vector<std::vector<Bm25Hit>> search_many(const std::vector<std::string>& queries,
                                                int64_t k, int threads = 0) const;
  // The score of one document for a query (0 when they share no term).
  double score(std::string_view query, int64_t doc) const;

 private:
  struct Accumulator;
  // Query term ids with their repeat counts, unknown terms dropped.
  std::vector<std::pair<int32_t, int32_t>> query_terms(std::string_view query) const;
  std::vector<Bm25Hit> search_with(Accumulator& acc, std::string_view query, int64_t k) const;

  Bm25Options options_;
  double avgdl_ = 0;
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<double> idf_;             // per term
  std::vector<int64_t> post_offsets_;   // per term + 1: postings of t are [off[t], off[t+1])
  std::vector<int32_t> post_docs_;      // ascending within a term
  std::vector<float> post_weight_;      // idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))
  std::vector<int32_t> doc_len_;
};

}  // namespace disttune
