#include "train/gist.h"

#include <ATen/ATen.h>

#include <limits>

#include "common/check.h"
#include "dist/dist.h"
#include "train/all_gather.h"
#include "train/similarity.h"

namespace disttune {

Gist::Gist(Options opt) : opt_(opt) {}

at::Tensor Gist::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  // The guide's embeddings take no gradient: gathered as values.
  std::vector<at::Tensor> cols, guide;
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    cols.push_back(loss_dtype(batch.columns[c]));
    guide.push_back(loss_dtype(batch.guide[c]).detach());
  }
  const GatheredRows gathered = all_gather_rows(d, cols[1]);
  const at::Tensor& positives = gathered.all;
  const std::vector<int64_t>& counts = gathered.counts;
  const int64_t b = cols[0].size(0), total = gathered.total();
  DT_CHECK(total > 0, "gist: the global batch is empty");
  const at::Tensor labels = at::arange(gathered.offset, gathered.offset + b, cols[0].options().dtype(at::kLong));
  const at::Tensor guide_positives = all_gather_values(d, guide[1], counts);
  const at::Tensor guide_ap = cos_sim(guide[0], guide_positives);
  const at::Tensor threshold = guide_ap.gather(1, labels.unsqueeze(1));  // [b, 1]: s_i
  const double inf = std::numeric_limits<double>::infinity();
  auto screened = [&](const at::Tensor& sim, const at::Tensor& guided, bool keep_label) {
    at::Tensor drop = opt_.strategy == Margin::Absolute ? guided > threshold - opt_.margin
                                                        : guided > threshold * (1 - opt_.margin);
    if (keep_label) drop.scatter_(1, labels.unsqueeze(1), false);
    return sim.masked_fill(drop, -inf);
  };

  std::vector<at::Tensor> scores{screened(cos_sim(cols[0], positives), guide_ap, true)};
  if (opt_.contrast_anchors) {
    const at::Tensor anchors = all_gather_with_grad(d, cols[0], counts);
    scores.push_back(screened(cos_sim(cols[0], anchors),
                              cos_sim(guide[0], all_gather_values(d, guide[0], counts)), false));
  }
  if (opt_.contrast_positives)
    scores.push_back(screened(cos_sim(cols[1], positives), cos_sim(guide[1], guide_positives), false));
  for (size_t c = 2; c < cols.size(); ++c)
    scores.push_back(screened(cos_sim(cols[0], all_gather_with_grad(d, cols[c], counts)),
                              cos_sim(guide[0], all_gather_values(d, guide[c], counts)), false));
  // Sum over this rank's anchors / global rows: the shares add up to the global mean.
  const at::Tensor logits = at::cat(scores, 1) / opt_.temperature;
  return at::cross_entropy_loss(logits, labels, {}, at::Reduction::Sum) / static_cast<double>(total);
}

}  // namespace disttune
