#include "eval/ir_metrics.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace disttune {
namespace {

// numpy's pairwise_sum for float64 (numpy/core/src/umath/loops_utils.h.src): below 8
// elements a plain loop; up to 128 eight interleaved accumulators combined as a tree, then
// the remainder; above that, split at a multiple of 8 near the middle.
double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

void check_cutoffs(const std::vector<int64_t>& ks, const char* metric) {
  for (int64_t k : ks) DT_REQUIRE(k >= 1, "IR evaluation: ", metric, " cut-off ", k, " must be >= 1");
}

bool contains(const std::vector<int64_t>& sorted, int64_t x) {
  return std::binary_search(sorted.begin(), sorted.end(), x);
}

// sentence-transformers' compute_dcg_at_k: sum of relevances[i] / log2(i + 2) over the
// first min(len, k) entries, accumulated in order from 0.
double dcg_at_k(const std::vector<int>& relevances, int64_t k) {
  double dcg = 0;
  const int64_t n = std::min<int64_t>(static_cast<int64_t>(relevances.size()), k);
  for (int64_t i = 0; i < n; ++i) dcg += relevances[i] / std::log2(static_cast<double>(i + 2));
  return dcg;
}

}  // namespace

int64_t IrCutoffs::max_k() const {
  int64_t m = 0;
  for (const auto* ks : {&accuracy, &precision_recall, &mrr, &ndcg, &map})
    for (int64_t k : *ks) m = std::max(m, k);
  return m;
}

IrCutoffs ir_cutoffs_from_k(const std::vector<int64_t>& k, const std::string& what) {
  DT_REQUIRE(!k.empty(), what, ": expected at least one cut-off k, e.g. [1, 3, 5, 10, 100]");
  for (int64_t v : k) DT_REQUIRE(v >= 1, what, ": cut-off ", v, " must be >= 1");
  std::vector<int64_t> ks = k;
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  IrCutoffs c;
  if (ks.size() == 1) {
    c.accuracy = c.precision_recall = c.mrr = c.ndcg = c.map = ks;
    return c;
  }
  const int64_t deepest = ks.back();
  ks.pop_back();
  c.accuracy = c.precision_recall = ks;
  c.mrr = c.ndcg = {ks.back()};
  c.map = {deepest};
  return c;
}

double numpy_mean(const std::vector<double>& x) {
  // np.add.reduce hands the inner loop at most one buffer (8192 elements) at a time and
  // adds each block's pairwise sum to the running total.
  constexpr size_t kBuffer = 8192;
  double sum = 0.;
  for (size_t s = 0; s < x.size(); s += kBuffer)
    sum += pairwise_sum(x.data() + s, std::min(kBuffer, x.size() - s));
  return sum / static_cast<double>(x.size());
}

IrMetricValues compute_ir_metrics(const std::vector<std::vector<int64_t>>& ranked,
                                  const std::vector<std::vector<int64_t>>& relevant,
                                  const IrCutoffs& cutoffs) {
  DT_CHECK(ranked.size() == relevant.size(), "ranked lists for ", ranked.size(),
           " queries but relevance for ", relevant.size());
  check_cutoffs(cutoffs.accuracy, "accuracy@k");
  check_cutoffs(cutoffs.precision_recall, "precision/recall@k");
  check_cutoffs(cutoffs.mrr, "mrr@k");
  check_cutoffs(cutoffs.ndcg, "ndcg@k");
  check_cutoffs(cutoffs.map, "map@k");
  const int64_t max_k = cutoffs.max_k();

  IrMetricValues out;
  std::map<int64_t, int64_t> hits;
  std::map<int64_t, std::vector<double>> precisions, recalls, ndcgs, aveps;
  for (int64_t k : cutoffs.accuracy) hits[k] = 0;
  for (int64_t k : cutoffs.mrr) out.mrr[k] = 0.;

  std::vector<int> predicted;
  for (size_t q = 0; q < ranked.size(); ++q) {
    const std::vector<int64_t>& rel = relevant[q];
    if (rel.empty()) {
      ++out.queries_without_relevant;
      continue;
    }
    DT_CHECK(std::is_sorted(rel.begin(), rel.end()) &&
                 std::adjacent_find(rel.begin(), rel.end()) == rel.end(),
             "relevant documents of query ", q, " are not sorted and unique");
    ++out.queries;
    const int64_t n_hits = std::min<int64_t>(static_cast<int64_t>(ranked[q].size()), max_k);
    // is_rel[i]: whether the i-th retrieved document is relevant.
    std::vector<int> is_rel(n_hits);
    for (int64_t i = 0; i < n_hits; ++i) is_rel[i] = contains(rel, ranked[q][i]) ? 1 : 0;
    const auto correct_in_top = [&](int64_t k) {
      int64_t c = 0;
      for (int64_t i = 0; i < std::min(k, n_hits); ++i) c += is_rel[i];
      return c;
    };
    const double n_rel = static_cast<double>(rel.size());

    for (int64_t k : cutoffs.accuracy)
      if (correct_in_top(k) > 0) ++hits[k];
    for (int64_t k : cutoffs.precision_recall) {
      const double c = static_cast<double>(correct_in_top(k));
      precisions[k].push_back(c / static_cast<double>(k));
      recalls[k].push_back(c / n_rel);
    }
    for (int64_t k : cutoffs.mrr)
      for (int64_t i = 0; i < std::min(k, n_hits); ++i)
        if (is_rel[i]) {
          out.mrr[k] += 1.0 / static_cast<double>(i + 1);
          break;
        }
    for (int64_t k : cutoffs.ndcg) {
      predicted.assign(is_rel.begin(), is_rel.begin() + std::min(k, n_hits));
      const std::vector<int> ideal(rel.size(), 1);
      ndcgs[k].push_back(dcg_at_k(predicted, k) / dcg_at_k(ideal, k));
    }
    for (int64_t k : cutoffs.map) {
      int64_t num_correct = 0;
      double sum_precisions = 0;
      for (int64_t i = 0; i < std::min(k, n_hits); ++i)
        if (is_rel[i]) {
          ++num_correct;
          sum_precisions += static_cast<double>(num_correct) / static_cast<double>(i + 1);
        }
      aveps[k].push_back(sum_precisions / static_cast<double>(std::min<int64_t>(k, rel.size())));
    }
  }
  DT_REQUIRE(out.queries > 0, "IR evaluation: none of the ", ranked.size(),
             " queries has a relevant document in the corpus; nothing to evaluate");

  const double nq = static_cast<double>(out.queries);
  for (const auto& [k, h] : hits) out.accuracy[k] = static_cast<double>(h) / nq;
  for (const auto& [k, v] : precisions) out.precision[k] = numpy_mean(v);
  for (const auto& [k, v] : recalls) out.recall[k] = numpy_mean(v);
  for (auto& [k, v] : out.mrr) v /= nq;
  for (const auto& [k, v] : ndcgs) out.ndcg[k] = numpy_mean(v);
  for (const auto& [k, v] : aveps) out.map[k] = numpy_mean(v);
  return out;
}

std::string matryoshka_prefix(int64_t dim) { return str_cat("dim_", dim, "_"); }

std::vector<MatryoshkaVariant> matryoshka_variants(const std::string& evaluator, int64_t full,
                                                   const std::vector<int64_t>& dims,
                                                   const std::string& name) {
  const std::string base = name.empty() ? "" : name + "_";
  std::vector<MatryoshkaVariant> v = {{full, base}};
  for (int64_t dim : dims) {
    DT_REQUIRE(dim >= 1 && dim <= full, evaluator, ": Matryoshka dimension ", dim,
               " must be in [1, ", full, "] (the embedding dimension)");
    v.push_back({dim, base + matryoshka_prefix(dim)});
  }
  return v;
}

std::vector<std::string> matryoshka_metric_names(const std::vector<std::string>& metrics,
                                                 const std::vector<int64_t>& dims,
                                                 const std::string& name) {
  const std::string base = name.empty() ? "" : name + "_";
  std::vector<std::string> names;
  for (const auto& m : metrics) {
    names.push_back(base + m);
    for (int64_t dim : dims) names.push_back(base + matryoshka_prefix(dim) + m);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::pair<int64_t, std::string> split_matryoshka_prefix(const std::string& name) {
  if (name.rfind("dim_", 0) == 0) {
    const size_t end = name.find_first_not_of("0123456789", 4);
    if (end != std::string::npos && end > 4 && name[end] == '_')
      return {std::stoll(name.substr(4, end - 4)), name.substr(end + 1)};
  }
  return {0, name};
}

std::map<std::string, double> ir_metric_map(const IrMetricValues& v, const std::string& prefix,
                                            const std::string& score_function) {
  std::map<std::string, double> out;
  const std::string base = prefix + score_function + "_";
  const auto put = [&](const char* metric, const std::map<int64_t, double>& values) {
    for (const auto& [k, x] : values) out[str_cat(base, metric, "@", k)] = x;
  };
  put("accuracy", v.accuracy);
  put("precision", v.precision);
  put("recall", v.recall);
  put("mrr", v.mrr);
  put("ndcg", v.ndcg);
  put("map", v.map);
  return out;
}

std::vector<std::string> ir_metric_names(const IrCutoffs& c, const std::string& prefix,
                                         const std::string& score_function) {
  IrMetricValues v;
  for (int64_t k : c.accuracy) v.accuracy[k] = 0;
  for (int64_t k : c.precision_recall) v.precision[k] = v.recall[k] = 0;
  for (int64_t k : c.mrr) v.mrr[k] = 0;
  for (int64_t k : c.ndcg) v.ndcg[k] = 0;
  for (int64_t k : c.map) v.map[k] = 0;
  std::vector<std::string> names;
  for (const auto& [name, x] : ir_metric_map(v, prefix, score_function)) names.push_back(name);
  return names;
}

}  // namespace disttune
