// Differentiable all-gather of embedding rows across ranks: the building block that lets
// every rank's loss see the whole global batch (cross-rank in-batch negatives).
//
// Forward: every rank's rows, concatenated in rank order (ranks may hold different
// numbers of rows). Backward: the gradient of the gathered tensor is summed over ranks and
// each rank keeps the rows it contributed, so that d(sum of all ranks' losses)/d(own rows)
// arrives exactly on the rank that owns them.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace disttune {

struct Dist;

// Rows held by each rank, in rank order (one small host collective).
std::vector<int64_t> gather_row_counts(Dist& d, int64_t local_rows);

struct GatheredRows {
  at::Tensor all;               // [sum(counts), ...], rank order; differentiable
  std::vector<int64_t> counts;  // rows per rank
  int64_t offset = 0;           // global index of this rank's first row
  int64_t total() const;
};

// Differentiable gather of `local` ([rows, ...], any dtype the communicator carries) over
// the communicator for its device (MPI for CPU tensors, NCCL for CUDA tensors). Every rank
// must call it, in the same order. At world size 1 it returns `local` itself.
GatheredRows all_gather_rows(Dist& d, const at::Tensor& local);

// As all_gather_rows when the row counts are already known (saves the count exchange).
at::Tensor all_gather_with_grad(Dist& d, const at::Tensor& local,
                                const std::vector<int64_t>& counts);

// Not differentiable (labels, ids): the rows of every rank in rank order.
at::Tensor all_gather_values(Dist& d, const at::Tensor& local, const std::vector<int64_t>& counts);

}  // namespace disttune
