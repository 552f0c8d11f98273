#include "eval/model_evaluator.h"

#include <ATen/ATen.h>

#include "data/ir_set.h"
#include "data/row_sets.h"
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

namespace {

// The texts of one role of held-out pairs or triplets, on every rank.
at::Tensor encode_role(Dist& d, Embedder& embedder, const std::vector<std::string>& texts,
                       const ModelEvalOptions& opt, const char* role, const std::string& prompt = "") {
  EncodeOptions e;
  e.batch_size = opt.batch_size;
  e.max_length = opt.max_length;
  e.prefix = prompt;
  if (!opt.progress.empty()) e.progress = opt.progress + " " + role;
  return embedder.encode_all(d, texts, e);
}

}  // namespace

std::map<std::string, double> evaluate_model_similarity(Dist& d, Embedder& embedder,
                                                        const ScoredSet& set,
                                                        const ModelEvalOptions& opt) {
  const at::Tensor first = encode_role(d, embedder, set.sentence1, opt, "sentence1", opt.sentence1_prompt);
  const at::Tensor second = encode_role(d, embedder, set.sentence2, opt, "sentence2", opt.sentence2_prompt);
  std::map<std::string, double> m = evaluate_similarity(first, second, set.scores, opt.similarity);
  if (opt.classify)
    m.merge(evaluate_binary_classification(first, second, set.scores,
                                           {opt.similarity.dims, opt.similarity.name, opt.similarity.score}));
  return m;
}

std::map<std::string, double> evaluate_model_triplets(Dist& d, Embedder& embedder,
                                                      const TripletSet& set,
                                                      const ModelEvalOptions& opt) {
  const at::Tensor anchors = encode_role(d, embedder, set.anchors, opt, "anchors", opt.anchor_prompt);
  const at::Tensor positives = encode_role(d, embedder, set.positives, opt, "positives", opt.positive_prompt);
  // All negative columns in one job, each text with its column's prompt: negative j of row i
  // is row j * n + i.
  std::vector<std::string> texts;
  for (size_t j = 0; j < set.negatives.size(); ++j) {
    const std::string prompt = j < opt.negative_prompts.size() ? opt.negative_prompts[j] : "";
    for (const auto& text : set.negatives[j]) texts.push_back(prompt + text);
  }
  const at::Tensor negatives = encode_role(d, embedder, texts, opt, "negatives");
  const int64_t k = static_cast<int64_t>(set.negatives.size());
  const at::Tensor a = anchors.repeat({k, 1}), p = positives.repeat({k, 1});
  // Each rank counts a block of the triplets; evaluate_triplets sums the counts.
  const int64_t n = a.size(0), lo = n * d.rank / d.world_size, hi = n * (d.rank + 1) / d.world_size;
  return evaluate_triplets(d, a.narrow(0, lo, hi - lo), p.narrow(0, lo, hi - lo),
                           negatives.narrow(0, lo, hi - lo), opt.triplet);
}

}  // namespace disttune
