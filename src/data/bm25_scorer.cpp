#include "data/bm25_scorer.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/check.h"
#include "dist/dist.h"

namespace disttune {

void Bm25Scorer::prepare(Dist&, const std::vector<std::string>& queries,
                         const std::vector<std::string>& corpus) {
  index_ = std::make_unique<Bm25Index>(corpus, options_);
  queries_ = &queries;
}

std::vector<std::vector<ScoredDoc>> Bm25Scorer::top_k(Dist& d, int64_t begin, int64_t end,
                                                      int64_t k) {
  DT_CHECK(index_ && queries_, "Bm25Scorer::top_k before prepare");
  DT_CHECK(0 <= begin && begin <= end && end <= static_cast<int64_t>(queries_->size()),
           "Bm25Scorer::top_k: bad query range");
  // This rank's contiguous slice (the first (end-begin) % world ranks take one more).
  const int64_t m = end - begin, w = d.world_size, r = d.rank;
  const int64_t b = begin + r * (m / w) + std::min(r, m % w);
  const int64_t e = b + m / w + (r < m % w ? 1 : 0);
  const std::vector<std::string> mine(queries_->begin() + b, queries_->begin() + e);
  const auto hits = index_->search_many(mine, k, std::max(1, d.threads));

  // Packed as counts then documents (int64), and scores (float).
  int64_t total = 0;
  for (const auto& h : hits) total += static_cast<int64_t>(h.size());
  at::Tensor docs = at::empty({static_cast<int64_t>(hits.size()) + total}, at::kLong);
  at::Tensor scores = at::empty({total}, at::kFloat);
  int64_t* pd = docs.data_ptr<int64_t>();
  float* ps = scores.data_ptr<float>();
  for (const auto& h : hits) *pd++ = static_cast<int64_t>(h.size());
  for (const auto& h : hits)
    for (const auto& x : h) {
      *pd++ = x.doc;
      *ps++ = x.score;
    }
  const std::vector<at::Tensor> all_docs = d.comm->gather(docs, 0);
  const std::vector<at::Tensor> all_scores = d.comm->gather(scores, 0);
  std::vector<std::vector<ScoredDoc>> out;
  if (!d.is_root()) return out;
  out.reserve(static_cast<size_t>(m));
  for (size_t src = 0; src < all_docs.size(); ++src) {
    const int64_t rs = static_cast<int64_t>(src);
    const int64_t n = m / w + (rs < m % w ? 1 : 0);  // queries of rank src
    const int64_t* c = all_docs[src].data_ptr<int64_t>();
    const int64_t* dd = c + n;
    const float* ss = all_scores[src].data_ptr<float>();
    for (int64_t q = 0; q < n; ++q) {
      std::vector<ScoredDoc> v(static_cast<size_t>(c[q]));
      for (auto& x : v) x = {*dd++, *ss++};
      out.push_back(std::move(v));
    }
  }
  DT_CHECK(static_cast<int64_t>(out.size()) == m, "Bm25Scorer: gathered ", out.size(), " of ", m,
           " queries");
  return out;
}

std::vector<float> Bm25Scorer::score_pairs(Dist& d,
                                           const std::vector<std::pair<int64_t, int64_t>>& pairs) {
  DT_CHECK(index_ && queries_, "Bm25Scorer::score_pairs before prepare");
  std::vector<float> out;
  if (!d.is_root()) return out;
  out.reserve(pairs.size());
  for (const auto& [q, doc] : pairs)
    out.push_back(static_cast<float>(index_->score((*queries_)[static_cast<size_t>(q)], doc)));
  return out;
}

}  // namespace disttune
