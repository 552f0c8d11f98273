// Hard-negative mining for (anchor, positive) pairs, with the options and semantics of
// sentence-transformers' util.mine_hard_negatives (v3+):
//
//  - Candidates: the deduplicated corpus = the given corpus texts, then every positive of
//    the dataset (first occurrence wins; identical texts are one document). Anchors are
//    deduplicated too: the positives of every row sharing an anchor text are positives of
//    that anchor, so neither a row's own positive nor any text equal to it, nor another
//    positive of the same anchor, is ever its negative.
//  - For each distinct anchor the scorer returns the range_max + max_positives best
//    documents (max_positives = most rows sharing one anchor). Positives are removed; then,
//    in this order, absolute_margin (drop score + margin > positive score), relative_margin
//    (drop score > positive score * (1 - relative_margin)), max_score (drop score >
//    max_score), min_score (drop score < min_score). The positive score is the anchor's
//    lowest positive score when it has several (the harder one, as sentence-transformers).
//  - The survivors, best first, are cut to the first range_max; the first range_min of them
//    are skipped; sampling "top" takes the next num_negatives, "random" draws num_negatives
//    of them uniformly without replacement (all of them when there are not more), then
//    orders the draw by score.
//  - range_max 0 means sentence-transformers' default: range_min + num_negatives + max_positives,
//    or range_min + 10 * num_negatives + max_positives when a margin or max_score is set.
//  - Output "triplet": one (anchor, positive, negative) row per negative found; rows with
//    none are dropped. "n-tuple": (anchor, positive, negative, negative_2, ...) for the rows
//    with all num_negatives found; others are dropped. "labeled-pair": (anchor, positive,
//    1) for every row, and (anchor, negative, 0) for each negative of each distinct anchor
//    (once, after its first row), for contrastive training and binary classification.
//
// Differences from sentence-transformers: output rows keep the input order (it groups rows
// by distinct anchor, which differs only when anchors repeat); n-tuple columns are the role
// names disttune reads back (negative, negative_2, ...) rather than negative_1, negative_2,
// and labeled pairs are scored pairs (sentence1, sentence2, score) rather than (anchor,
// positive, label), so that they read back as such and cannot pass for (anchor, positive)
// pairs under the default data.columns;
// ties in score go to the lower document index; "random" uses disttune's portable generator
// seeded per anchor (derive_seed(seed, "mining"), then the anchor's index), so results do not
// depend on the world size or the platform.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace disttune {

struct Dist;

struct ScoredDoc {
  int64_t doc;
  float score;
};

// Where candidate scores come from. Every method is collective: every rank calls it with the
// same arguments. Results are needed on rank 0 only (other ranks may return empty vectors).
class NegativeScorer {
 public:
  virtual ~NegativeScorer() = default;
  virtual std::string name() const = 0;
  // Called once before any search: the distinct anchors (queries) and the candidate corpus.
  virtual void prepare(Dist& d, const std::vector<std::string>& queries,
                       const std::vector<std::string>& corpus) = 0;
  // For each query in [begin, end): the (at most) k best corpus documents, best first, equal
  // scores ordered by lower document index. Higher scores mean more similar.
  virtual std::vector<std::vector<ScoredDoc>> top_k(Dist& d, int64_t begin, int64_t end,
                                                    int64_t k) = 0;
  // The score of each (query, document) pair, on the same scale as top_k.
  virtual std::vector<float> score_pairs(Dist& d,
                                         const std::vector<std::pair<int64_t, int64_t>>& pairs) = 0;
};

enum class MiningSampling { Top, Random };
// NTupleScores: NTuple with "score": [positive's, each negative's] (sentence-transformers'
// n-tuple-scores), the teacher's scores that margin_mse distils.
enum class MiningFormat { Triplet, NTuple, NTupleScores, LabeledPair };

struct MiningOptions {
  int64_t num_negatives = 3;
  int64_t range_min = 0;
  int64_t range_max = 0;  // 0: sentence-transformers' default (see above)
  std::optional<double> absolute_margin, relative_margin, max_score, min_score;
  MiningSampling sampling = MiningSampling::Top;
  MiningFormat format = MiningFormat::Triplet;
  uint64_t seed = 42;
  int64_t queries_per_step = 8192;  // distinct anchors scored per collective step
};

// "top" | "random"; "triplet" | "n-tuple" | "n-tuple-scores" | "labeled-pair" (also
// "triplets", "ntuple");
// UserError otherwise.
MiningSampling parse_mining_sampling(const std::string& s);
MiningFormat parse_mining_format(const std::string& s);
const char* mining_format_name(MiningFormat f);

struct MiningStats {
  int64_t rows = 0, distinct_anchors = 0, corpus_docs = 0, max_positives = 0;
  int64_t range_max = 0;          // as used (after the default was applied)
  int64_t candidates = 0;         // documents the scorer returned, positives excluded
  int64_t positives_excluded = 0;
  int64_t dropped_absolute_margin = 0, dropped_relative_margin = 0, dropped_max_score = 0,
          dropped_min_score = 0;
  int64_t negatives = 0;          // negatives chosen, summed over rows
  int64_t rows_short = 0;         // rows with fewer than num_negatives negatives
  int64_t rows_without = 0;       // rows with none
  int64_t output_rows = 0;
  double mean_positive_score = 0, mean_negative_score = 0;
  // Lines for the user (what sentence-transformers prints, in disttune's words).
  std::string summary(const MiningOptions& opt) const;
};

struct MiningResult {
  std::vector<std::string> corpus;                  // the deduplicated candidate documents
  std::vector<std::vector<int64_t>> negatives;      // per input row: corpus indices, best first
  std::vector<std::vector<float>> negative_scores;  // matching scores
  std::vector<float> positive_scores;               // per input row
  MiningStats stats;
};

// Collective: every rank passes the same rows and options. The result is complete on rank 0;
// other ranks get only `stats.rows`. Throws UserError for options that cannot work
// (num_negatives < 1, range_min >= range_max, relative_margin outside [0, 1), ...).
MiningResult mine_hard_negatives(Dist& d, const std::vector<std::string>& anchors,
                                 const std::vector<std::string>& positives,
                                 const std::vector<std::string>& corpus, NegativeScorer& scorer,
                                 const MiningOptions& opt);

// Writes the mined rows as JSON lines with the role names as keys (anchor, positive,
// negative[, negative_2 ...]) to `path` atomically (temporary file, fsync, rename through
// Env). Returns the number of rows written. Rank 0 only.
int64_t write_mined_jsonl(const std::string& path, const std::vector<std::string>& anchors,
                          const std::vector<std::string>& positives, const MiningResult& result,
                          const MiningOptions& opt);

}  // namespace disttune
