#include "train/mnrl.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "dist/dist.h"
#include "train/all_gather.h"
#include "train/similarity.h"

namespace disttune {

Mnrl::Mnrl(double scale, bool symmetric, bool dot) : scale_(scale), symmetric_(symmetric), dot_(dot) {}

std::string Mnrl::name() const {
  if (symmetric_ && dot_) return "mnrl(symmetric, dot)";
  return symmetric_ ? "mnrl(symmetric)" : dot_ ? "mnrl(dot)" : "mnrl";
}

at::Tensor Mnrl::scores(const at::Tensor& a, const at::Tensor& b) const {
  return (dot_ ? a.mm(b.t()) : cos_sim(a, b)) * scale_;
}

at::Tensor Mnrl::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  std::vector<at::Tensor> cols;
  for (const at::Tensor& c : batch.columns) cols.push_back(loss_dtype(c));
  const int64_t b = cols[0].size(0);
  const GatheredRows positives = all_gather_rows(d, cols[1]);
  const std::vector<int64_t>& counts = positives.counts;
  const int64_t total = positives.total();
  DT_CHECK(total > 0, "mnrl: the global batch is empty");

  std::vector<at::Tensor> candidates{positives.all};
  for (size_t c = 2; c < cols.size(); ++c) candidates.push_back(all_gather_with_grad(d, cols[c], counts));
  at::Tensor labels = at::arange(positives.offset, positives.offset + b, cols[0].options().dtype(at::kLong));
  // Sum over this rank's anchors / global rows: the shares add up to the global mean.
  at::Tensor loss = at::cross_entropy_loss(scores(cols[0], at::cat(candidates, 0)), labels, {}, at::Reduction::Sum);
  if (!symmetric_) return loss / static_cast<double>(total);

  // Positive -> anchor direction: this rank's positives against every anchor.
  at::Tensor anchors = all_gather_with_grad(d, cols[0], counts);
  at::Tensor back = at::cross_entropy_loss(scores(cols[1], anchors), labels, {}, at::Reduction::Sum);
  return (loss + back) / (2.0 * static_cast<double>(total));
}

}  // namespace disttune
