#include "train/batch_triplet.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <utility>
#include <vector>

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
  const at::Tensor positive = same & ~self;

  if (kind_ == Kind::Hard || kind_ == Kind::HardSoftMargin) {
    const at::Tensor hardest_pos = std::get<0>((positive.to(at::kFloat) * dist).max(1));
    const at::Tensor row_max = std::get<0>(dist.max(1, /*keepdim=*/true));
    const at::Tensor hardest_neg = std::get<0>((dist + row_max * same.to(at::kFloat)).min(1));
    const at::Tensor gap = hardest_pos - hardest_neg;
    const at::Tensor terms = kind_ == Kind::Hard ? at::relu(gap + margin_) : at::softplus(gap);
    return terms.sum() / static_cast<double>(total);
  }

  // The semi-hard and all-triplet terms are chosen on the host, anchor by anchor, over its
  // positives x its negatives: sum_i P_i N_i steps, at most b x total^2 / 4 (two classes),
  // far below the b x total^2 of the masked-tensor formulation when the classes are many.
  const at::Tensor host = dist.detach().to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor host_same = same.to(at::kCPU).contiguous();
  const float* dp = host.data_ptr<float>();
  const bool* sp = host_same.data_ptr<bool>();
  std::vector<int64_t> pos, neg;
  auto split_row = [&](int64_t i) {
    pos.clear();
    neg.clear();
    for (int64_t j = 0; j < total; ++j) {
      if (!sp[i * total + j]) neg.push_back(j);
      else if (j != all.offset + i) pos.push_back(j);  // the anchor itself is no positive
    }
  };
  const float margin = static_cast<float>(margin_);

  if (kind_ == Kind::SemiHard) {
    // Per (anchor i, positive p): the negative that BatchSemiHardTripletLoss's masked minimum
    // selects (the nearest farther than p), else its masked maximum's (the farthest; with no
    // negative at all, the row's minimum); its distance alone carries the gradient.
    at::Tensor pick = at::zeros({b, total}, at::kLong);
    int64_t* pk = pick.data_ptr<int64_t>();
    int64_t pairs = 0;
    std::vector<std::pair<float, int64_t>> sorted;
    for (int64_t i = 0; i < b; ++i) {
      split_row(i);
      pairs += static_cast<int64_t>(pos.size());
      const float* row = dp + i * total;
      sorted.clear();
      for (int64_t k : neg) sorted.emplace_back(row[k], k);
      std::sort(sorted.begin(), sorted.end());
      const int64_t fallback = sorted.empty() ? std::min_element(row, row + total) - row : sorted.back().second;
      for (int64_t j : pos) {
        const auto beyond = std::upper_bound(sorted.begin(), sorted.end(), std::make_pair(row[j], total));
        pk[i * total + j] = beyond == sorted.end() ? fallback : beyond->second;
      }
    }
    const double all_pairs = d.comm->all_reduce_scalar(static_cast<double>(pairs), ReduceOp::Sum);
    const at::Tensor terms =
        at::relu(dist - dist.gather(1, pick.to(dist.device())) + margin_) * positive.to(at::kFloat);
    if (all_pairs == 0) return terms.sum() * 0.0;
    return terms.sum() / all_pairs;
  }

  // Batch all: term (i, p, n) = dist[i, p] - dist[i, n] + margin over p a positive and n a
  // negative of i; an active term contributes +1 to dist[i, p]'s gradient and -1 to
  // dist[i, n]'s, so its counts per (i, p) and (i, n) are all the graph needs.
  at::Tensor weight = at::zeros({b, total}, at::kFloat);
  float* wp = weight.data_ptr<float>();
  double sum = 0, counted = 0;
  for (int64_t i = 0; i < b; ++i) {
    split_row(i);
    const float* row = dp + i * total;
    float* w = wp + i * total;
    for (int64_t j : pos) {
      for (int64_t k : neg) {
        const float t = row[j] - row[k] + margin;  // float32, as the reference's tensors
        if (t <= 0) continue;
        sum += t;
        counted += t > 1e-16f ? 1 : 0;
        w[j] += 1;
        w[k] -= 1;
      }
    }
  }
  counted = d.comm->all_reduce_scalar(counted, ReduceOp::Sum);
  // The value is the chosen terms' sum; the gradient that of the same sum written through
  // the counts (equal in exact arithmetic, free of its cancellation in float).
  const at::Tensor through = (dist * weight.to(dist.device())).sum();
  return (through - through.detach() + sum) / (counted + 1e-16);
}

}  // namespace disttune
