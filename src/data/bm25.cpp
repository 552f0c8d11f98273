#include "data/bm25.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "common/check.h"
#include "data/analyzer.h"

namespace disttune {

Bm25Index::Bm25Index(const std::vector<std::string>& docs, Bm25Options options)
    : options_(options) {
  DT_REQUIRE(options.k1 >= 0 && options.b >= 0 && options.b <= 1,
             "BM25: k1 must be >= 0 and b in [0, 1]; got k1 ", options.k1, ", b ", options.b);
  DT_REQUIRE(docs.size() < static_cast<size_t>(INT32_MAX), "BM25: too many documents");
  // Forward pass: per document its (term, tf) pairs, term ids in first-seen order.
  std::vector<int32_t> fwd_term, fwd_tf;
  std::vector<int64_t> fwd_off{0};
  std::vector<int64_t> df;
  std::vector<int32_t> ids;
  std::string key;
  doc_len_.reserve(docs.size());
  int64_t total_len = 0;
  for (const std::string& doc : docs) {
    ids.clear();
    analyze_text(doc, options_.stopwords, [&](std::string_view tok) {
      key.assign(tok);
      auto it = vocab_.find(key);
      if (it == vocab_.end()) {
        it = vocab_.emplace(key, static_cast<int32_t>(vocab_.size())).first;
        df.push_back(0);
      }
      ids.push_back(it->second);
    });
    std::sort(ids.begin(), ids.end());
    for (size_t i = 0; i < ids.size();) {
      size_t j = i;
      while (j < ids.size() && ids[j] == ids[i]) ++j;
      fwd_term.push_back(ids[i]);
      fwd_tf.push_back(static_cast<int32_t>(j - i));
      df[static_cast<size_t>(ids[i])]++;
      i = j;
    }
    fwd_off.push_back(static_cast<int64_t>(fwd_term.size()));
    doc_len_.push_back(static_cast<int32_t>(ids.size()));
    total_len += static_cast<int64_t>(ids.size());
  }
  const double n = static_cast<double>(docs.size());
  avgdl_ = docs.empty() ? 0 : static_cast<double>(total_len) / n;

  const size_t n_terms = df.size();
  idf_.resize(n_terms);
  post_offsets_.assign(n_terms + 1, 0);
  for (size_t t = 0; t < n_terms; ++t) {
    const double d = static_cast<double>(df[t]);
    idf_[t] = std::log(1.0 + (n - d + 0.5) / (d + 0.5));
    post_offsets_[t + 1] = post_offsets_[t] + df[t];
  }
  // Inverted pass: documents in ascending order, so each postings list is sorted.
  const size_t n_post = fwd_term.size();
  post_docs_.resize(n_post);
  post_weight_.resize(n_post);
  std::vector<int64_t> fill(post_offsets_.begin(), post_offsets_.end() - 1);
  const double k1 = options_.k1, b = options_.b;
  for (size_t d = 0; d < docs.size(); ++d) {
    // avgdl == 0 only when every document is empty; then no postings exist.
    const double norm = k1 * (1 - b + (avgdl_ > 0 ? b * doc_len_[d] / avgdl_ : b));
    for (int64_t p = fwd_off[d]; p < fwd_off[d + 1]; ++p) {
      const size_t t = static_cast<size_t>(fwd_term[static_cast<size_t>(p)]);
      const int32_t tf = fwd_tf[static_cast<size_t>(p)];
      const size_t slot = static_cast<size_t>(fill[t]++);
      post_docs_[slot] = static_cast<int32_t>(d);
      post_weight_[slot] = static_cast<float>(idf_[t] * tf / (tf + norm));
    }
  }
}

std::vector<std::pair<int32_t, int32_t>> Bm25Index::query_terms(std::string_view query) const {
  std::vector<std::pair<int32_t, int32_t>> terms;  // (term, repeats), in first-seen order
  std::string key;
  analyze_text(query, options_.stopwords, [&](std::string_view tok) {
    key.assign(tok);
    const auto it = vocab_.find(key);
    if (it == vocab_.end()) return;
    for (auto& t : terms)
      if (t.first == it->second) {
        ++t.second;
        return;
      }
    terms.emplace_back(it->second, 1);
  });
  return terms;
}

// Per-thread scratch: a score per document and the list of documents touched.
struct Bm25Index::Accumulator {
  std::vector<float> score;
  std::vector<uint8_t> seen;
  std::vector<int32_t> touched;
  std::vector<Bm25Hit> hits;  // reused across queries: a fresh large buffer per query costs page faults
  explicit Accumulator(size_t n) : score(n, 0.0f), seen(n, 0) {}
};

std::vector<Bm25Hit> Bm25Index::search_with(Accumulator& acc, std::string_view query,
                                            int64_t k) const {
  if (k <= 0) return {};
  for (const auto& [term, repeats] : query_terms(query)) {
    const size_t t = static_cast<size_t>(term);
    for (int64_t p = post_offsets_[t]; p < post_offsets_[t + 1]; ++p) {
      const size_t d = static_cast<size_t>(post_docs_[static_cast<size_t>(p)]);
      if (!acc.seen[d]) {
        acc.seen[d] = 1;
        acc.touched.push_back(static_cast<int32_t>(d));
      }
      acc.score[d] += static_cast<float>(repeats) * post_weight_[static_cast<size_t>(p)];
    }
  }
  std::vector<Bm25Hit>& hits = acc.hits;
  hits.clear();
  for (int32_t d : acc.touched) {
    hits.push_back({d, acc.score[static_cast<size_t>(d)]});
    acc.score[static_cast<size_t>(d)] = 0;
    acc.seen[static_cast<size_t>(d)] = 0;
  }
  acc.touched.clear();
  const auto better = [](const Bm25Hit& a, const Bm25Hit& b) {
    return a.score > b.score || (a.score == b.score && a.doc < b.doc);
  };
  if (static_cast<int64_t>(hits.size()) > k) {
    std::nth_element(hits.begin(), hits.begin() + k, hits.end(), better);
    hits.resize(static_cast<size_t>(k));
  }
  std::sort(hits.begin(), hits.end(), better);
  return hits;  // a copy of the top k only
}

std::vector<Bm25Hit> Bm25Index::search(std::string_view query, int64_t k) const {
  Accumulator acc(doc_len_.size());
  return search_with(acc, query, k);
}

std::vector<std::vector<Bm25Hit>> Bm25Index::search_many(const std::vector<std::string>& queries,
                                                         int64_t k, int threads) const {
  std::vector<std::vector<Bm25Hit>> out(queries.size());
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads),
                                              std::max<size_t>(1, queries.size() / 16)));
  auto work = [&](size_t first, size_t last) {
    Accumulator acc(doc_len_.size());
    for (size_t q = first; q < last; ++q) out[q] = search_with(acc, queries[q], k);
  };
  if (threads <= 1) {
    work(0, queries.size());
    return out;
  }
  std::vector<std::thread> pool;
  const size_t per = (queries.size() + static_cast<size_t>(threads) - 1) / static_cast<size_t>(threads);
  for (size_t first = 0; first < queries.size(); first += per)
    pool.emplace_back(work, first, std::min(queries.size(), first + per));
  for (auto& t : pool) t.join();
  return out;
}

double Bm25Index::score(std::string_view query, int64_t doc) const {
  DT_CHECK(doc >= 0 && doc < num_docs(), "document ", doc, " out of range");
  float s = 0;
  for (const auto& [term, repeats] : query_terms(query)) {
    const size_t t = static_cast<size_t>(term);
    const auto first = post_docs_.begin() + post_offsets_[t];
    const auto last = post_docs_.begin() + post_offsets_[t + 1];
    const auto it = std::lower_bound(first, last, static_cast<int32_t>(doc));
    if (it != last && *it == doc)
      s += static_cast<float>(repeats) * post_weight_[static_cast<size_t>(it - post_docs_.begin())];
  }
  return s;
}

}  // namespace disttune
