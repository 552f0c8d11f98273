// Gradient all-reduce over ranks, in flat buckets.
//
// The losses return each rank's share of the global loss (loss.h), so the gradient of the
// global loss is the SUM over ranks of the local parameter gradients: that is what this
// reduces (not the average). The result does not depend on the bucket layout beyond
// float rounding of the sum.
//
// Gradients live in the buckets: zero_grad() points every parameter's .grad at its slice
// of a flat bucket, backward accumulates into it in place, and all_reduce() reduces each
// bucket with one collective and no copies. A gradient that was replaced behind the
// reducer's back (set to a fresh tensor) is copied in and out instead, so the result is
// the same either way.
//
// Gradient accumulation: run every micro-step's backward, then all_reduce() once after the
// last one. There is no overlap with backward: MPI's non-blocking all-reduce does not
// progress in the background here (docs/training.md has the measurement), and the NCCL
// communicator waits for each collective.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace disttune {

struct Dist;
class Config;

class GradReducer {
 public:
  // `params`: the trainable parameters (fp32 master weights), every rank in the same order
  // with the same shapes. Buckets hold up to `bucket_bytes` each (one parameter larger
  // than that gets a bucket of its own) and never mix dtypes or devices.
  GradReducer(Dist& d, std::vector<at::Tensor> params, int64_t bucket_bytes = 25 << 20);

  // Zero every gradient in place (and attach the bucket views). Call before the first
  // micro-step of an optimizer step.
  void zero_grad();
  // SUM every parameter's gradient over ranks. Every rank must call it. A parameter that
  // received no gradient on this rank contributes zeros and ends with the summed gradient.
  void all_reduce();

  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  const std::vector<at::Tensor>& params() const { return params_; }

 private:
  struct Bucket {
    at::Tensor flat;
    std::vector<size_t> members;   // indices into params_
    std::vector<int64_t> offsets;  // element offset of each member in flat
  };
  at::Tensor view_of(const Bucket& b, size_t k) const;

  Dist& d_;
  std::vector<at::Tensor> params_;
  std::vector<Bucket> buckets_;
};

// distributed.bucket_mb in bytes.
int64_t bucket_bytes_from(const Config& cfg);

}  // namespace disttune
