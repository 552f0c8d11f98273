#include "train/mnrl.h"

#include <ATen/ATen.h>

#include <limits>
#include <vector>

#include "common/check.h"
#include "dist/dist.h"
#include "train/all_gather.h"
#include "train/similarity.h"

namespace disttune {

Mnrl::Direction parse_mnrl_direction(const std::string& s) {
  if (s == "query_to_doc") return Mnrl::QueryToDoc;
  if (s == "query_to_query") return Mnrl::QueryToQuery;
  if (s == "doc_to_query") return Mnrl::DocToQuery;
  if (s == "doc_to_doc") return Mnrl::DocToDoc;
  DT_FAIL("unknown mnrl direction '", s, "' (expected query_to_doc, query_to_query, doc_to_query, doc_to_doc)");
}

Mnrl::Hardness parse_mnrl_hardness(const std::string& s) {
  if (s == "none") return Mnrl::Hardness::None;
  if (s == "in_batch_negatives") return Mnrl::Hardness::InBatchNegatives;
  if (s == "hard_negatives") return Mnrl::Hardness::HardNegatives;
  if (s == "all_negatives") return Mnrl::Hardness::AllNegatives;
  DT_FAIL("unknown mnrl hardness mode '", s, "' (expected none, in_batch_negatives, hard_negatives, all_negatives)");
}

Mnrl::Mnrl(const Options& o) : o_(o) {
  DT_CHECK(o_.directions & QueryToDoc, "mnrl: query_to_doc holds the positive pair and is always a direction");
  DT_CHECK(!(o_.per_direction && (o_.directions & (QueryToQuery | DocToDoc))),
           "mnrl: per_direction takes query_to_doc and doc_to_query only");
}

Mnrl::Mnrl(double scale, bool symmetric, bool dot)
    : Mnrl(Options{scale, dot, symmetric ? (QueryToDoc | DocToQuery) : QueryToDoc, symmetric}) {}

bool Mnrl::symmetric() const {
  return o_.directions == (QueryToDoc | DocToQuery) && o_.per_direction && o_.hardness == Hardness::None;
}

std::string Mnrl::name() const {
  std::vector<std::string> parts;
  if (symmetric()) {
    parts.push_back("symmetric");
  } else if (o_.directions != QueryToDoc) {
    std::string dirs;
    for (auto [bit, n] : {std::pair{QueryToDoc, "q2d"}, {QueryToQuery, "q2q"}, {DocToQuery, "d2q"}, {DocToDoc, "d2d"}})
      if (o_.directions & bit) dirs += (dirs.empty() ? "" : "+") + std::string(n);
    parts.push_back(dirs + (o_.per_direction ? " per direction" : " joint"));
  }
  if (o_.hardness != Hardness::None && o_.hardness_strength > 0) {
    const char* h = o_.hardness == Hardness::InBatchNegatives ? "in-batch" : o_.hardness == Hardness::HardNegatives
                                                                             ? "hard"
                                                                             : "all";
    parts.push_back(str_cat("hardness ", h, " ", o_.hardness_strength));
  }
  if (o_.dot) parts.push_back("dot");
  return parts.empty() ? "mnrl" : "mnrl(" + join(parts, ", ") + ")";
}

at::Tensor Mnrl::similarity(const at::Tensor& a, const at::Tensor& b) const {
  return o_.dot ? a.mm(b.t()) : cos_sim(a, b);
}

at::Tensor Mnrl::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  std::vector<at::Tensor> cols;
  for (const at::Tensor& c : batch.columns) cols.push_back(loss_dtype(c));
  const int64_t b = cols[0].size(0);
  const GatheredRows positives = all_gather_rows(d, cols[1]);
  const std::vector<int64_t>& counts = positives.counts;
  const int64_t total = positives.total();
  const int64_t offset = positives.offset;
  DT_CHECK(total > 0, "mnrl: the global batch is empty");
  const auto opts = cols[0].options();
  at::Tensor labels = at::arange(offset, offset + b, opts.dtype(at::kLong));

  std::vector<at::Tensor> docs{positives.all};
  for (size_t c = 2; c < cols.size(); ++c) docs.push_back(all_gather_with_grad(d, cols[c], counts));
  const int64_t groups = static_cast<int64_t>(docs.size());
  const at::Tensor docs_all = at::cat(docs, 0);
  // True at column offset + i + k * total of row i, k < reps: this rank's row i's own entries
  // of `reps` blocks of the global batch (its query, or its positive and negatives).
  auto own = [&](int64_t reps) {
    at::Tensor eye = at::zeros({b, total}, opts.dtype(at::kBool));
    if (b > 0) eye.narrow(1, offset, b).fill_diagonal_(true);
    return reps == 1 ? eye : eye.repeat({1, reps});
  };
  at::Tensor q2d = similarity(cols[0], docs_all);
  at::Tensor logits = q2d * o_.scale;
  if (o_.hardness != Hardness::None && o_.hardness_strength > 0) {
    at::Tensor keep = own(groups);  // row i's own documents
    if (o_.hardness == Hardness::HardNegatives) {
      keep.narrow(1, 0, total).fill_(false);  // its own negatives only
    } else {
      keep = keep.logical_not();  // the other rows' documents
      if (o_.hardness == Hardness::AllNegatives) keep.narrow(1, total, (groups - 1) * total).fill_(true);
    }
    logits = logits + (q2d.detach() * o_.hardness_strength).masked_fill(keep.logical_not(), 0.0);
  }
  // The positive pair's logit: the hardness terms leave it alone.
  at::Tensor positive = b > 0 ? logits.gather(1, labels.unsqueeze(1)).squeeze(1) : logits.new_zeros({0});
  std::vector<at::Tensor> parts{logits};
  const bool need_queries = o_.directions & (QueryToQuery | DocToQuery);
  const at::Tensor queries = need_queries ? all_gather_with_grad(d, cols[0], counts) : at::Tensor();
  const double minus_inf = -std::numeric_limits<double>::infinity();
  if (o_.directions & QueryToQuery)
    parts.push_back((similarity(cols[0], queries) * o_.scale).masked_fill(own(1), minus_inf));
  if (o_.directions & DocToQuery) parts.push_back(similarity(cols[1], queries) * o_.scale);
  if (o_.directions & DocToDoc)
    parts.push_back((similarity(cols[1], docs_all) * o_.scale).masked_fill(own(groups), minus_inf));
  at::Tensor log_z;
  if (o_.per_direction) {
    log_z = at::zeros({b}, logits.options());
    for (const at::Tensor& p : parts) log_z = log_z + at::logsumexp(p, {1});
    log_z = log_z / static_cast<double>(parts.size());
  } else {
    log_z = at::logsumexp(at::cat(parts, 1), {1});
  }
  // Sum over this rank's queries / global rows: the shares add up to the global mean.
  return (log_z - positive).sum() / static_cast<double>(total);
}

}  // namespace disttune
