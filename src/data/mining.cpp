#include "data/mining.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/atomic_file.h"
#include "common/check.h"
#include "common/env.h"
#include "common/progress.h"
#include "data/random.h"
#include "dist/dist.h"

namespace disttune {
namespace {

constexpr uint64_t kMiningStream = 0x6d696e696e67ull;  // "mining"

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string with_ratio(int64_t n, int64_t of) {
  return of > 0 ? str_cat(n, " (", fmt(100.0 * static_cast<double>(n) / static_cast<double>(of)), "%)")
                : std::to_string(n);
}

void check_options(const MiningOptions& o) {
  DT_REQUIRE(o.num_negatives >= 1, "mining: num_negatives must be at least 1, got ", o.num_negatives);
  DT_REQUIRE(o.range_min >= 0, "mining: range_min must be >= 0, got ", o.range_min);
  DT_REQUIRE(o.range_max >= 0, "mining: range_max must be >= 0 (0 = automatic), got ", o.range_max);
  DT_REQUIRE(!o.relative_margin || (*o.relative_margin >= 0 && *o.relative_margin < 1),
             "mining: relative_margin must be in [0, 1), got ", o.relative_margin.value_or(0));
  DT_REQUIRE(!o.max_score || !o.min_score || *o.min_score <= *o.max_score,
             "mining: min_score (", o.min_score.value_or(0), ") is above max_score (",
             o.max_score.value_or(0), "): no candidate could pass");
  DT_REQUIRE(o.queries_per_step >= 1, "mining: queries_per_step must be at least 1");
}

// The candidates of one distinct anchor, filtered as sentence-transformers does, then cut to
// the range and sampled. `hits` are best first.
std::vector<ScoredDoc> choose(const std::vector<ScoredDoc>& hits, const std::vector<int64_t>& positives,
                              float positive_score, int64_t range_max, int64_t q,
                              const MiningOptions& o, MiningStats* st) {
  std::vector<ScoredDoc> valid;
  for (const ScoredDoc& h : hits) {
    if (std::find(positives.begin(), positives.end(), h.doc) != positives.end()) {
      ++st->positives_excluded;
      continue;
    }
    ++st->candidates;
    // float arithmetic, as sentence-transformers does on its float32 score tensors.
    if (o.absolute_margin && h.score + static_cast<float>(*o.absolute_margin) > positive_score) {
      ++st->dropped_absolute_margin;
      continue;
    }
    if (o.relative_margin && h.score > positive_score * static_cast<float>(1.0 - *o.relative_margin)) {
      ++st->dropped_relative_margin;
      continue;
    }
    if (o.max_score && h.score > static_cast<float>(*o.max_score)) {
      ++st->dropped_max_score;
      continue;
    }
    if (o.min_score && h.score < static_cast<float>(*o.min_score)) {
      ++st->dropped_min_score;
      continue;
    }
    valid.push_back(h);
  }
  if (static_cast<int64_t>(valid.size()) > range_max) valid.resize(static_cast<size_t>(range_max));
  const size_t skip = static_cast<size_t>(std::min<int64_t>(o.range_min, static_cast<int64_t>(valid.size())));
  std::vector<ScoredDoc> pool(valid.begin() + static_cast<std::ptrdiff_t>(skip), valid.end());
  const size_t n = static_cast<size_t>(o.num_negatives);
  if (pool.size() <= n) return pool;
  if (o.sampling == MiningSampling::Top) {
    pool.resize(n);
    return pool;
  }
  // Uniform draw of n of the pool without replacement (partial Fisher-Yates), then back in
  // score order.
  SplitMix64 rng(derive_seed(derive_seed(o.seed, kMiningStream), static_cast<uint64_t>(q)));
  std::vector<size_t> idx(pool.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  for (size_t j = 0; j < n; ++j)
    std::swap(idx[j], idx[j + static_cast<size_t>(rng.below(idx.size() - j))]);
  idx.resize(n);
  std::sort(idx.begin(), idx.end());
  std::vector<ScoredDoc> out;
  for (size_t i : idx) out.push_back(pool[i]);
  return out;
}

}  // namespace

MiningSampling parse_mining_sampling(const std::string& s) {
  if (s == "top") return MiningSampling::Top;
  if (s == "random") return MiningSampling::Random;
  DT_FAIL("sampling '", s, "': expected top or random");
}

MiningFormat parse_mining_format(const std::string& s) {
  if (s == "triplet" || s == "triplets") return MiningFormat::Triplet;
  if (s == "n-tuple" || s == "ntuple") return MiningFormat::NTuple;
  if (s == "n-tuple-scores") return MiningFormat::NTupleScores;
  if (s == "labeled-pair") return MiningFormat::LabeledPair;
  DT_FAIL("format '", s, "': expected triplet, n-tuple, n-tuple-scores or labeled-pair");
}

const char* mining_format_name(MiningFormat f) {
  switch (f) {
    case MiningFormat::Triplet: return "triplet";
    case MiningFormat::NTuple: return "n-tuple";
    case MiningFormat::NTupleScores: return "n-tuple-scores";
    case MiningFormat::LabeledPair: return "labeled-pair";
  }
  return "?";
}

std::string MiningStats::summary(const MiningOptions& o) const {
  std::string s = str_cat("mined ", rows, " rows: ", distinct_anchors, " distinct anchors, ",
                          corpus_docs, " candidate documents, range ", o.range_min, "..",
                          range_max, ", ", o.num_negatives, " negative(s) wanted per row\n");
  s += str_cat("candidates scored: ", candidates, " (", positives_excluded,
               " positives excluded)\n");
  auto dropped = [&](const char* what, int64_t n, const std::optional<double>& v) {
    if (v) s += str_cat("skipped ", with_ratio(n, candidates), " candidates by ", what, " ", fmt(*v), "\n");
  };
  dropped("absolute_margin", dropped_absolute_margin, o.absolute_margin);
  dropped("relative_margin", dropped_relative_margin, o.relative_margin);
  dropped("max_score", dropped_max_score, o.max_score);
  dropped("min_score", dropped_min_score, o.min_score);
  s += str_cat("negatives found: ", negatives, "; rows with fewer than ", o.num_negatives, ": ",
               with_ratio(rows_short, rows), " (", rows_without, " with none)\n");
  s += str_cat("mean score: positive ", fmt(mean_positive_score), ", negative ",
               fmt(mean_negative_score), "\n");
  s += str_cat("output rows (", mining_format_name(o.format), "): ",
               output_rows);
  if (rows_short > 0)
    s += str_cat("\nsome rows have fewer negatives than wanted: consider a larger range_max",
                 o.range_min > 0 ? ", a smaller range_min" : "",
                 o.absolute_margin || o.relative_margin ? ", a smaller margin" : "",
                 o.max_score ? ", a higher max_score" : "", o.min_score ? ", a lower min_score" : "");
  return s;
}

MiningResult mine_hard_negatives(Dist& d, const std::vector<std::string>& anchors,
                                 const std::vector<std::string>& positives,
                                 const std::vector<std::string>& corpus_in, NegativeScorer& scorer,
                                 const MiningOptions& o) {
  check_options(o);
  DT_CHECK(anchors.size() == positives.size(), "mining: ", anchors.size(), " anchors but ",
           positives.size(), " positives");
  DT_REQUIRE(!anchors.empty(), "mining: no rows to mine negatives for");
  MiningResult res;
  MiningStats& st = res.stats;
  const size_t rows = anchors.size();
  st.rows = static_cast<int64_t>(rows);

  // Candidate documents: the corpus, then the positives; identical texts are one document.
  // Views point into res.corpus, whose capacity is reserved so that they stay valid.
  res.corpus.reserve(corpus_in.size() + rows);
  std::unordered_map<std::string_view, int64_t> doc_of;
  auto add_doc = [&](const std::string& t) {
    const auto it = doc_of.find(t);
    if (it != doc_of.end()) return it->second;
    res.corpus.push_back(t);
    const int64_t id = static_cast<int64_t>(res.corpus.size()) - 1;
    doc_of.emplace(res.corpus.back(), id);
    return id;
  };
  for (const auto& t : corpus_in) add_doc(t);
  std::vector<int64_t> pos_doc(rows);
  for (size_t i = 0; i < rows; ++i) pos_doc[i] = add_doc(positives[i]);
  st.corpus_docs = static_cast<int64_t>(res.corpus.size());

  // Distinct anchors, in order of first appearance, with their rows.
  std::unordered_map<std::string_view, int64_t> query_of;
  std::vector<std::string> queries;
  std::vector<std::vector<int64_t>> query_rows;
  std::vector<int64_t> row_query(rows);
  for (size_t i = 0; i < rows; ++i) {
    const auto [it, fresh] = query_of.emplace(anchors[i], static_cast<int64_t>(queries.size()));
    if (fresh) {
      queries.push_back(anchors[i]);
      query_rows.emplace_back();
    }
    row_query[i] = it->second;
    query_rows[static_cast<size_t>(it->second)].push_back(static_cast<int64_t>(i));
  }
  const int64_t nq = static_cast<int64_t>(queries.size());
  st.distinct_anchors = nq;
  for (const auto& r : query_rows) st.max_positives = std::max<int64_t>(st.max_positives, static_cast<int64_t>(r.size()));

  const bool filtered = o.absolute_margin || o.relative_margin || o.max_score;
  st.range_max = o.range_max > 0 ? o.range_max
                                 : o.range_min + o.num_negatives * (filtered ? 10 : 1) + st.max_positives;
  DT_REQUIRE(st.range_max > o.range_min, "mining: range_max (", st.range_max,
             ") must be greater than range_min (", o.range_min, ")");
  const int64_t k = st.range_max + st.max_positives;

  scorer.prepare(d, queries, res.corpus);
  std::vector<std::vector<ScoredDoc>> chosen(d.is_root() ? static_cast<size_t>(nq) : 0);
  res.positive_scores.assign(d.is_root() ? rows : 0, 0.0f);
  Progress bar(str_cat("mining negatives (", scorer.name(), ")"), nq, "anchors");
  for (int64_t qb = 0; qb < nq; qb += o.queries_per_step) {
    const int64_t qe = std::min(nq, qb + o.queries_per_step);
    const auto hits = scorer.top_k(d, qb, qe, k);
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (int64_t q = qb; q < qe; ++q)
      for (int64_t r : query_rows[static_cast<size_t>(q)]) pairs.emplace_back(q, pos_doc[static_cast<size_t>(r)]);
    const auto pscores = scorer.score_pairs(d, pairs);
    if (d.is_root()) {
      DT_CHECK(static_cast<int64_t>(hits.size()) == qe - qb && pscores.size() == pairs.size(),
               "scorer ", scorer.name(), " returned results of the wrong size");
      size_t p = 0;
      for (int64_t q = qb; q < qe; ++q) {
        const auto& qr = query_rows[static_cast<size_t>(q)];
        std::vector<int64_t> pos;
        float min_pos = 0;
        for (size_t j = 0; j < qr.size(); ++j, ++p) {
          res.positive_scores[static_cast<size_t>(qr[j])] = pscores[p];
          min_pos = j == 0 ? pscores[p] : std::min(min_pos, pscores[p]);
          pos.push_back(pos_doc[static_cast<size_t>(qr[j])]);
        }
        chosen[static_cast<size_t>(q)] =
            choose(hits[static_cast<size_t>(q - qb)], pos, min_pos, st.range_max, q, o, &st);
      }
    }
    bar.update(qe - qb);
  }
  bar.finish();
  if (!d.is_root()) return res;

  res.negatives.resize(rows);
  res.negative_scores.resize(rows);
  double pos_sum = 0, neg_sum = 0;
  for (size_t i = 0; i < rows; ++i) {
    const auto& c = chosen[static_cast<size_t>(row_query[i])];
    for (const auto& x : c) {
      res.negatives[i].push_back(x.doc);
      res.negative_scores[i].push_back(x.score);
      neg_sum += x.score;
    }
    pos_sum += res.positive_scores[i];
    const int64_t found = static_cast<int64_t>(c.size());
    st.negatives += found;
    if (found < o.num_negatives) ++st.rows_short;
    if (found == 0) ++st.rows_without;
    switch (o.format) {
      case MiningFormat::Triplet: st.output_rows += found; break;
      case MiningFormat::NTuple:
      case MiningFormat::NTupleScores: st.output_rows += found == o.num_negatives ? 1 : 0; break;
      case MiningFormat::LabeledPair: {
        // The positive, and the anchor's negatives after its first row only.
        const bool first_of_anchor = query_rows[static_cast<size_t>(row_query[i])].front() == static_cast<int64_t>(i);
        st.output_rows += 1 + (first_of_anchor ? found : 0);
        break;
      }
    }
  }
  st.mean_positive_score = pos_sum / static_cast<double>(rows);
  st.mean_negative_score = st.negatives > 0 ? neg_sum / static_cast<double>(st.negatives) : 0;
  return res;
}

int64_t write_mined_jsonl(const std::string& path, const std::vector<std::string>& anchors,
                          const std::vector<std::string>& positives, const MiningResult& res,
                          const MiningOptions& o) {
  // Streamed into a temporary and published only when complete (a previous file at `path`
  // survives a failure; the temporary is removed).
  AtomicFile f(path);
  auto q = [](const std::string& s) {
    return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  int64_t written = 0;
  std::string line;
  auto emit = [&] {
    f.append(line);
    ++written;
  };
  std::unordered_set<std::string_view> labeled;  // anchors whose negatives are written
  for (size_t i = 0; i < res.negatives.size() && f.status().ok(); ++i) {
    const auto& neg = res.negatives[i];
    if (o.format == MiningFormat::LabeledPair) {
      const std::string head = "{\"sentence1\": " + q(anchors[i]) + ", \"sentence2\": ";
      line = head + q(positives[i]) + ", \"score\": 1}\n";
      emit();
      // Rows sharing an anchor share its negatives: written once, as the anchor's.
      if (!labeled.insert(anchors[i]).second) continue;
      for (int64_t doc : neg) {
        line = head + q(res.corpus[static_cast<size_t>(doc)]) + ", \"score\": 0}\n";
        emit();
      }
      continue;
    }
    const std::string head = "{\"anchor\": " + q(anchors[i]) + ", \"positive\": " + q(positives[i]);
    if (o.format == MiningFormat::Triplet) {
      for (int64_t doc : neg) {
        line = head + ", \"negative\": " + q(res.corpus[static_cast<size_t>(doc)]) + "}\n";
        emit();
      }
    } else if (static_cast<int64_t>(neg.size()) == o.num_negatives) {
      line = head;
      for (size_t j = 0; j < neg.size(); ++j)
        line += str_cat(", \"negative", j ? "_" + std::to_string(j + 1) : std::string(), "\": ",
                        q(res.corpus[static_cast<size_t>(neg[j])]));
      if (o.format == MiningFormat::NTupleScores) {
        nlohmann::json scores = nlohmann::json::array({res.positive_scores[i]});
        for (float s : res.negative_scores[i]) scores.push_back(s);
        line += ", \"score\": " + scores.dump();
      }
      line += "}\n";
      emit();
    }
  }
  f.commit().with_context("writing the mined rows").throw_if_error();
  return written;
}

}  // namespace disttune
