#include "eval/ir_evaluator.h"

#include <ATen/ATen.h>
#include <glog/logging.h>

#include <algorithm>

#include "common/check.h"
#include "eval/normalize.h"
#include "eval/topk.h"

namespace disttune {
namespace {

IrCutoffs cutoffs_of(const IrEvalOptions& opt) {
  return opt.cutoffs ? *opt.cutoffs : ir_cutoffs_from_k(opt.k);
}

// Every corpus index held by exactly one rank: the sharding the caller promises. A count
// per document summed over the ranks (4 bytes per document, once per evaluation).
void check_sharding(Communicator& comm, const at::Tensor& idx, int64_t corpus) {
  const int64_t n = idx.numel();
  const int64_t lo = n ? idx.min().item<int64_t>() : 0;
  const int64_t hi = n ? idx.max().item<int64_t>() : 0;
  const int64_t bad = comm.all_reduce_int(n && (lo < 0 || hi >= corpus) ? 1 : 0, ReduceOp::Sum);
  DT_REQUIRE(bad == 0, "IR evaluation: document indices must lie in [0, ", corpus,
             ") (the corpus size); ", bad, " rank(s) passed indices outside");
  at::Tensor count = at::zeros({corpus}, at::kInt);
  if (n) count.index_add_(0, idx, at::ones({n}, at::kInt));
  comm.all_reduce(count, ReduceOp::Sum);
  const int64_t missing = count.eq(0).sum().item<int64_t>();
  const int64_t repeated = count.gt(1).sum().item<int64_t>();
  DT_REQUIRE(missing == 0 && repeated == 0, "IR evaluation: the ranks' documents must cover the ",
             corpus, " corpus documents exactly once; ", missing, " are held by no rank and ",
             repeated, " by more than one");
}

}  // namespace

std::vector<std::string> ir_eval_metric_names(const IrEvalOptions& opt) {
  return matryoshka_metric_names(ir_metric_names(cutoffs_of(opt), "", score_function_name(opt.score)), opt.dims,
                                 opt.name);
}

std::map<std::string, double> evaluate_ir(Dist& d, const IrSet& set, const at::Tensor& query_emb,
                                          const at::Tensor& local_doc_emb,
                                          const at::Tensor& local_doc_indices,
                                          const IrEvalOptions& opt, IrEvalStats* stats) {
  Communicator& comm = *d.comm;
  const int64_t nq = static_cast<int64_t>(set.queries.size());
  const int64_t corpus = static_cast<int64_t>(set.corpus.size());
  DT_CHECK(set.relevant.size() == set.queries.size(), "IrSet: relevance for ",
           set.relevant.size(), " queries, texts for ", nq);
  DT_REQUIRE(query_emb.dim() == 2 && query_emb.size(0) == nq, "IR evaluation: expected [", nq,
             ", dim] query embeddings, got ", query_emb.sizes());
  DT_REQUIRE(local_doc_emb.dim() == 2 && local_doc_emb.size(1) == query_emb.size(1),
             "IR evaluation: document embeddings ", local_doc_emb.sizes(),
             " do not match the query embeddings' dimension ", query_emb.size(1));
  DT_REQUIRE(local_doc_indices.dim() == 1 && local_doc_indices.size(0) == local_doc_emb.size(0),
             "IR evaluation: ", local_doc_emb.size(0), " document embeddings but ",
             local_doc_indices.numel(), " indices");
  DT_REQUIRE(opt.chunk_rows >= 1, "IR evaluation: chunk_rows must be >= 1, got ", opt.chunk_rows);
  const auto variants = matryoshka_variants("IR evaluation", query_emb.size(1), opt.dims, opt.name);
  const IrCutoffs cutoffs = cutoffs_of(opt);
  const int64_t max_k = cutoffs.max_k();
  const at::Tensor idx = local_doc_indices.to(at::kCPU, at::kLong).contiguous();
  check_sharding(comm, idx, corpus);

  // Only queries with a relevant document are scored (sentence-transformers drops the
  // others before encoding); the others get empty rankings and are counted as skipped.
  std::vector<int64_t> scored;
  for (int64_t q = 0; q < nq; ++q)
    if (!set.relevant[q].empty()) scored.push_back(q);
  const at::Tensor scored_rows = at::tensor(scored, at::kLong);
  const at::Tensor queries = query_emb.to(at::kCPU).index_select(0, scored_rows);

  std::map<std::string, double> out;
  std::map<int64_t, IrMetricValues> done;
  IrMetricValues last;
  // The full dimension first, unprefixed; then each Matryoshka dimension (the full one again
  // when listed, from the same ranking).
  for (const auto& [dim, prefix] : variants) {
    if (!done.count(dim)) {
      TopKAccumulator acc(score_rows(queries, dim, opt.score), max_k, opt.chunk_rows);
      for (int64_t s = 0; s < local_doc_emb.size(0); s += opt.chunk_rows) {
        const int64_t rows = std::min(opt.chunk_rows, local_doc_emb.size(0) - s);
        acc.add(score_rows(local_doc_emb.narrow(0, s, rows), dim, opt.score), idx.narrow(0, s, rows));
      }
      const TopK top = merge_topk(comm, acc.result(), max_k);
      std::vector<std::vector<int64_t>> ranked(nq);
      const int64_t kk = top.indices.size(1);
      const int64_t* ip = top.indices.data_ptr<int64_t>();
      for (size_t i = 0; i < scored.size(); ++i)
        ranked[scored[i]].assign(ip + i * kk, ip + (i + 1) * kk);
      done[dim] = compute_ir_metrics(ranked, set.relevant, cutoffs);
    }
    last = done[dim];
    for (const auto& [name, value] : ir_metric_map(last, prefix, score_function_name(opt.score))) out[name] = value;
  }
  LOG(INFO) << "IR evaluation" << (opt.name.empty() ? "" : " " + opt.name) << ": " << last.queries
            << " queries, " << last.queries_without_relevant
            << " skipped without a relevant document, corpus " << corpus << ", dims "
            << variants.size();
  if (stats) *stats = {last.queries, last.queries_without_relevant, corpus};
  return out;
}

}  // namespace disttune
