#include "embed/model_scorer.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/check.h"
#include "dist/dist.h"
#include "eval/dot_kernel.h"
#include "eval/normalize.h"
#include "eval/topk.h"

namespace disttune {

ModelScorer::ModelScorer(Embedder& embedder, ModelScorerOptions options)
    : embedder_(embedder), options_(std::move(options)) {
  DT_CHECK(options_.chunk_rows >= 1, "ModelScorer: chunk_rows must be >= 1");
}

void ModelScorer::prepare(Dist& d, const std::vector<std::string>& queries,
                          const std::vector<std::string>& corpus) {
  EncodeOptions q = options_.query, c = options_.corpus;
  if (q.progress.empty()) q.progress = "embedding anchors";
  if (c.progress.empty()) c.progress = "embedding candidates";
  queries_ = truncate_normalize(embedder_.encode_all(d, queries, q));
  const EncodedShard shard = embedder_.encode_shard(d, corpus, c);
  docs_ = truncate_normalize(shard.embeddings);
  doc_indices_ = shard.indices.to(at::kLong).contiguous();
  local_row_.assign(corpus.size(), -1);
  const int64_t* idx = doc_indices_.data_ptr<int64_t>();
  for (int64_t r = 0; r < doc_indices_.size(0); ++r) local_row_[static_cast<size_t>(idx[r])] = r;
}

std::vector<std::vector<ScoredDoc>> ModelScorer::top_k(Dist& d, int64_t begin, int64_t end,
                                                       int64_t k) {
  DT_CHECK(queries_.defined(), "ModelScorer::top_k before prepare");
  DT_CHECK(0 <= begin && begin <= end && end <= queries_.size(0) && k >= 1,
           "ModelScorer::top_k: bad query range or k");
  TopKAccumulator acc(queries_.narrow(0, begin, end - begin), k, options_.chunk_rows);
  for (int64_t s = 0; s < docs_.size(0); s += options_.chunk_rows) {
    const int64_t rows = std::min(options_.chunk_rows, docs_.size(0) - s);
    acc.add(docs_.narrow(0, s, rows), doc_indices_.narrow(0, s, rows));
  }
  const TopK top = merge_topk(*d.comm, acc.result(), k);
  std::vector<std::vector<ScoredDoc>> out;
  if (!d.is_root()) return out;
  const int64_t kk = top.indices.size(1);
  const int64_t* ip = top.indices.data_ptr<int64_t>();
  const float* sp = top.scores.data_ptr<float>();
  out.resize(static_cast<size_t>(end - begin));
  for (size_t q = 0; q < out.size(); ++q) {
    out[q].reserve(static_cast<size_t>(kk));
    for (int64_t j = 0; j < kk; ++j) {
      const int64_t at = static_cast<int64_t>(q) * kk + j;
      if (ip[at] < 0) break;  // fewer documents than k
      out[q].push_back({ip[at], sp[at]});
    }
  }
  return out;
}

std::vector<float> ModelScorer::score_pairs(Dist& d,
                                            const std::vector<std::pair<int64_t, int64_t>>& pairs) {
  DT_CHECK(queries_.defined(), "ModelScorer::score_pairs before prepare");
  // The owner of each document scores it, the others contribute 0: the sum is that score
  // exactly, the same bits top_k gives the pair.
  at::Tensor scores = at::zeros({static_cast<int64_t>(pairs.size())}, at::kFloat);
  float* out = scores.data_ptr<float>();
  const int64_t dim = queries_.size(1);
  const float* qp = queries_.data_ptr<float>();
  const float* dp = docs_.data_ptr<float>();
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto [q, doc] = pairs[i];
    const int64_t row = local_row_.at(static_cast<size_t>(doc));
    if (row >= 0) out[i] = reference_dot(qp + q * dim, dp + row * dim, dim);
  }
  d.comm->all_reduce(scores, ReduceOp::Sum);
  if (!d.is_root()) return {};
  return std::vector<float>(out, out + pairs.size());
}

}  // namespace disttune
