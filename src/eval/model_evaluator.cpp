#include "eval/model_evaluator.h"

#include <ATen/ATen.h>

#include "data/ir_set.h"
#include "data/scored_set.h"
#include "dist/dist.h"
#include "embed/embedder.h"

namespace disttune {

std::map<std::string, double> evaluate_model(Dist& d, Embedder& embedder, const IrSet& set,
                                             const ModelEvalOptions& opt, IrEvalStats* stats) {
  EncodeOptions q;
  q.batch_size = opt.batch_size;
  q.max_length = opt.max_length;
  q.prefix = opt.query_prompt;
  if (!opt.progress.empty()) q.progress = opt.progress + " queries";
  at::Tensor queries = embedder.encode_all(d, set.queries, q);
  EncodeOptions c = q;
  c.prefix = opt.corpus_prompt;
  if (!opt.progress.empty()) c.progress = opt.progress + " corpus";
  EncodedShard docs = embedder.encode_shard(d, set.corpus, c);
  return evaluate_ir(d, set, queries, docs.embeddings, docs.indices, opt.ir, stats);
}

std::map<std::string, double> evaluate_model_similarity(Dist& d, Embedder& embedder,
                                                        const ScoredSet& set,
                                                        const ModelEvalOptions& opt) {
  EncodeOptions e;
  e.batch_size = opt.batch_size;
  e.max_length = opt.max_length;
  if (!opt.progress.empty()) e.progress = opt.progress + " sentence1";
  const at::Tensor first = embedder.encode_all(d, set.sentence1, e);
  if (!opt.progress.empty()) e.progress = opt.progress + " sentence2";
  const at::Tensor second = embedder.encode_all(d, set.sentence2, e);
  return evaluate_similarity(first, second, set.scores, opt.similarity);
}

}  // namespace disttune
