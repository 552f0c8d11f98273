#include "eval/model_evaluator.h"

#include <ATen/ATen.h>

#include "data/ir_set.h"
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

}  // namespace disttune
