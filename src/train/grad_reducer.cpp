#include "train/grad_reducer.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "config/config.h"
#include "dist/dist.h"

namespace disttune {

GradReducer::GradReducer(Dist& d, std::vector<at::Tensor> params, int64_t bucket_bytes)
    : d_(d), params_(std::move(params)) {
  DT_CHECK(bucket_bytes > 0, "GradReducer: bucket_bytes must be > 0");
  // Reverse order: backward produces the last layers' gradients first, which keeps each
  // bucket's members close together in time should the reduction ever be overlapped.
  Bucket cur;
  int64_t cur_elems = 0;
  auto flush = [&] {
    if (cur.members.empty()) return;
    const at::Tensor& p0 = params_[cur.members[0]];
    cur.flat = at::zeros({cur_elems}, p0.options().requires_grad(false));
    buckets_.push_back(std::move(cur));
    cur = Bucket();
    cur_elems = 0;
  };
  for (size_t i = params_.size(); i-- > 0;) {
    const at::Tensor& p = params_[i];
    DT_CHECK(p.defined() && p.requires_grad(), "GradReducer: parameter ", i, " is not trainable");
    if (!cur.members.empty()) {
      const at::Tensor& p0 = params_[cur.members[0]];
      const bool same_kind = p.scalar_type() == p0.scalar_type() && p.device() == p0.device();
      if (!same_kind || (cur_elems + p.numel()) * p.element_size() > bucket_bytes) flush();
    }
    cur.members.push_back(i);
    cur.offsets.push_back(cur_elems);
    cur_elems += p.numel();
  }
  flush();
  zero_grad();
}

at::Tensor GradReducer::view_of(const Bucket& b, size_t k) const {
  const at::Tensor& p = params_[b.members[k]];
  return b.flat.narrow(0, b.offsets[k], p.numel()).view(p.sizes());
}

void GradReducer::zero_grad() {
  for (Bucket& b : buckets_) {
    b.flat.zero_();
    for (size_t k = 0; k < b.members.size(); ++k) {
      at::Tensor& p = params_[b.members[k]];
      at::Tensor v = view_of(b, k);
      if (!p.grad().defined() || !p.grad().is_same(v)) p.mutable_grad() = v;
    }
  }
}

void GradReducer::all_reduce() {
  for (Bucket& b : buckets_) {
    // Gradients that are no longer the bucket's views (replaced or reset to undefined)
    // are copied in; missing ones count as zeros.
    std::vector<size_t> foreign;
    for (size_t k = 0; k < b.members.size(); ++k) {
      at::Tensor& p = params_[b.members[k]];
      at::Tensor v = view_of(b, k);
      const at::Tensor& g = p.grad();
      if (g.defined() && g.is_same(v)) continue;
      // is_same compares TensorImpls: a view onto the same memory with the same layout is
      // also ours (e.g. re-wrapped by an in-place op).
      if (g.defined() && g.data_ptr() == v.data_ptr() && g.strides() == v.strides()) continue;
      if (g.defined()) v.copy_(g); else v.zero_();
      foreign.push_back(k);
    }
    if (d_.world_size > 1) d_.comm_for(b.flat).all_reduce(b.flat, ReduceOp::Sum);
    for (size_t k : foreign) params_[b.members[k]].mutable_grad() = view_of(b, k);
  }
}

int64_t bucket_bytes_from(const Config& cfg) {
  return std::max<int64_t>(1, static_cast<int64_t>(cfg.get_float("distributed.bucket_mb") * (1 << 20)));
}

}  // namespace disttune
