#include "train/batch_triplet.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "common/check.h"
#include "dist/dist.h"
#include "train/all_gather.h"

namespace disttune {

bool parse_batch_triplet(const std::string& name, BatchTriplet::Kind* kind) {
  using K = BatchTriplet::Kind;
  if (name == "batch_hard_triplet") *kind = K::Hard;
  else if (name == "batch_hard_soft_margin_triplet") *kind = K::HardSoftMargin;
  else if (name == "batch_semi_hard_triplet") *kind = K::SemiHard;
  else if (name == "batch_all_triplet") *kind = K::All;
  else return false;
  return true;
}

BatchTriplet::BatchTriplet(Kind kind, Distance distance, double margin)
    : kind_(kind), distance_(distance), margin_(margin) {
  DT_CHECK(distance == Distance::Euclidean || distance == Distance::Cosine,
           "batch triplet losses take a euclidean or cosine distance");
}

std::string BatchTriplet::name() const {
  switch (kind_) {
    case Kind::Hard: return "batch_hard_triplet";
    case Kind::HardSoftMargin: return "batch_hard_soft_margin_triplet";
    case Kind::SemiHard: return "batch_semi_hard_triplet";
    case Kind::All: return "batch_all_triplet";
  }
  return "?";
}

namespace {

// Rows of a chunk of anchors, so that [rows, global, global] holds at most 2^24 entries.
int64_t chunk_rows(int64_t global) { return std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(1, global * global)); }

}  // namespace

at::Tensor BatchTriplet::forward(Dist& d, const LossBatch& batch) {
  check_loss_batch(*this, batch);
  const at::Tensor x = loss_dtype(batch.columns[0]);
  const int64_t b = x.size(0);
  const GatheredRows all = all_gather_rows(d, x);
  const int64_t total = all.total();
  DT_CHECK(total > 0, name(), ": the global batch is empty");
  const at::Tensor labels = batch.labels.reshape({-1}).to(at::kFloat);
  const at::Tensor all_labels = all_gather_values(d, labels, all.counts);

  // dist[i, j]: this rank's text i against text j of the global batch.
  at::Tensor dist;
  if (distance_ == Distance::Cosine) {
    dist = 1 - cos_sim(x, all.all);
  } else {
    const at::Tensor dot = x.mm(all.all.t());
    // Squared norms from the product's own diagonal, so that a text's distance to itself is
    // exactly 0 as in the single-matrix reference (whose sqrt would otherwise see rounding).
    const at::Tensor own = dot.narrow(1, all.offset, b).diagonal();
    const at::Tensor norms = all_gather_with_grad(d, own.contiguous(), all.counts);
    dist = norms.unsqueeze(0) - 2.0 * dot + own.unsqueeze(1);
    dist = dist.masked_fill(dist < 0, 0.0);
    const at::Tensor zero = dist.eq(0).to(at::kFloat);
    dist = (1.0 - zero) * at::sqrt(dist + zero * 1e-16);
  }
  const at::Tensor same = labels.unsqueeze(1) == all_labels.unsqueeze(0);  // [b, total]
  at::Tensor self = at::zeros({b, total}, same.options());
  if (b > 0) self.narrow(1, all.offset, b).diagonal().fill_(true);
  const at::Tensor positive = same & ~self, negative = ~same;

  if (kind_ == Kind::Hard || kind_ == Kind::HardSoftMargin) {
    const at::Tensor hardest_pos = std::get<0>((positive.to(at::kFloat) * dist).max(1));
    const at::Tensor row_max = std::get<0>(dist.max(1, /*keepdim=*/true));
    const at::Tensor hardest_neg = std::get<0>((dist + row_max * same.to(at::kFloat)).min(1));
    const at::Tensor gap = hardest_pos - hardest_neg;
    const at::Tensor terms = kind_ == Kind::Hard ? at::relu(gap + margin_) : at::softplus(gap);
    return terms.sum() / static_cast<double>(total);
  }

  const at::Tensor dd = dist.detach();
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t chunk = chunk_rows(total);
  if (kind_ == Kind::SemiHard) {
    // Per (anchor i, positive k): the negative n that BatchSemiHardTripletLoss's masked
    // minimum / maximum select, and whose distance alone carries the gradient.
    at::Tensor pick = at::empty({b, total}, dd.options().dtype(at::kLong));
    {
      at::NoGradGuard no_grad;
      // No negative at all: the masked maximum is the row's minimum (the text itself).
      const at::Tensor farthest = at::where(negative.any(1), std::get<1>(dd.masked_fill(same, -inf).max(1)),
                                            std::get<1>(dd.min(1)));
      for (int64_t s = 0; s < b; s += chunk) {
        const int64_t n = std::min(chunk, b - s);
        const at::Tensor dc = dd.narrow(0, s, n);
        const at::Tensor beyond = negative.narrow(0, s, n).unsqueeze(1) & (dc.unsqueeze(1) > dc.unsqueeze(2));
        const auto nearest = dc.unsqueeze(1).masked_fill(~beyond, inf).min(2);  // [n, k]
        pick.narrow(0, s, n).copy_(at::where(beyond.any(2), std::get<1>(nearest),
                                             farthest.narrow(0, s, n).unsqueeze(1)));
      }
    }
    const double pairs = d.comm->all_reduce_scalar(positive.sum().item<double>(), ReduceOp::Sum);
    const at::Tensor terms = at::relu(dist - dist.gather(1, pick) + margin_) * positive.to(at::kFloat);
    if (pairs == 0) return terms.sum() * 0.0;
    return terms.sum() / pairs;
  }

  // Batch all: term (i, j, k) = dist[i, j] - dist[i, k] + margin over j a positive and k a
  // negative of i; an active term contributes +1 to dist[i, j]'s gradient and -1 to
  // dist[i, k]'s, so its counts per (i, j) and (i, k) are all the graph needs.
  at::Tensor as_positive = at::zeros_like(dd), as_negative = at::zeros_like(dd);
  double sum = 0, counted = 0;
  {
    at::NoGradGuard no_grad;
    for (int64_t s = 0; s < b; s += chunk) {
      const int64_t n = std::min(chunk, b - s);
      const at::Tensor dc = dd.narrow(0, s, n);
      const at::Tensor valid = positive.narrow(0, s, n).unsqueeze(2) & negative.narrow(0, s, n).unsqueeze(1);
      const at::Tensor t = (dc.unsqueeze(2) - dc.unsqueeze(1) + margin_) * valid.to(at::kFloat);
      const at::Tensor active = (t > 0).to(at::kFloat);
      as_positive.narrow(0, s, n).copy_(active.sum(2));
      as_negative.narrow(0, s, n).copy_(active.sum(1));
      sum += (t * active).sum().item<double>();
      counted += (t > 1e-16).sum().item<double>();
    }
  }
  counted = d.comm->all_reduce_scalar(counted, ReduceOp::Sum);
  // The value is the chosen terms' sum; the gradient that of the same sum written through
  // the counts (equal in exact arithmetic, free of its cancellation in float).
  const at::Tensor through = (dist * (as_positive - as_negative)).sum();
  return (through - through.detach() + sum) / (counted + 1e-16);
}

}  // namespace disttune
