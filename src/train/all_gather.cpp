#include "train/all_gather.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <numeric>

#include "common/check.h"
#include "dist/dist.h"

namespace disttune {
namespace {

bool all_equal(const std::vector<int64_t>& v) {
  return std::adjacent_find(v.begin(), v.end(), std::not_equal_to<>()) == v.end();
}

int64_t offset_of(const std::vector<int64_t>& counts, int rank) {
  return std::accumulate(counts.begin(), counts.begin() + rank, int64_t{0});
}

at::Tensor gather_rows(Communicator& comm, const at::Tensor& x, const std::vector<int64_t>& counts) {
  // Equal slices need no count exchange inside the communicator.
  return all_equal(counts) ? comm.all_gather(x) : comm.all_gatherv(x);
}

// Backward of CPU tensors runs on the thread that called backward (libtorch's engine runs
// CPU-only graphs on the caller), so MPI's SERIALIZED thread level is enough; CUDA
// backward runs on the device thread and talks to NCCL only.
// The communicator travels through the autograd context as an integer: saved_data holds
// IValues only, and the communicator outlives every graph (it lives as long as Dist).
struct AllGatherFunction : public torch::autograd::Function<AllGatherFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& local,
                            Communicator* comm, const std::vector<int64_t>& counts) {
    ctx->saved_data["comm"] = reinterpret_cast<int64_t>(comm);
    ctx->saved_data["counts"] = counts;
    return gather_rows(*comm, local, counts);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* comm = reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
    const std::vector<int64_t> counts = ctx->saved_data["counts"].toIntVector();
    const int rank = comm->rank();
    at::Tensor g = grads[0];
    at::Tensor mine;
    if (all_equal(counts)) {
      mine = comm->reduce_scatter(g, ReduceOp::Sum);
    } else {
      // No reduce-scatter for unequal slices: sum the whole gradient (a private copy: the
      // incoming gradient may be a view shared with other nodes) and keep this rank's rows.
      at::Tensor summed = g.contiguous().clone();
      comm->all_reduce(summed, ReduceOp::Sum);
      mine = summed.narrow(0, offset_of(counts, rank), counts[rank]);
    }
    return {mine, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

int64_t GatheredRows::total() const {
  return std::accumulate(counts.begin(), counts.end(), int64_t{0});
}

std::vector<int64_t> gather_row_counts(Dist& d, int64_t local_rows) {
  if (d.world_size == 1) return {local_rows};
  at::Tensor n = at::full({1}, local_rows, at::kLong);
  at::Tensor all = d.comm->all_gather(n);
  return std::vector<int64_t>(all.data_ptr<int64_t>(), all.data_ptr<int64_t>() + all.numel());
}

at::Tensor all_gather_with_grad(Dist& d, const at::Tensor& local,
                                const std::vector<int64_t>& counts) {
  DT_CHECK(local.dim() >= 1, "all_gather_with_grad needs at least one dimension");
  DT_CHECK(static_cast<int>(counts.size()) == d.world_size && counts[d.rank] == local.size(0),
           "all_gather_with_grad: row counts do not match this rank's ", local.size(0), " rows");
  if (d.world_size == 1) return local;
  return AllGatherFunction::apply(local, &d.comm_for(local), counts);
}

GatheredRows all_gather_rows(Dist& d, const at::Tensor& local) {
  GatheredRows out;
  out.counts = gather_row_counts(d, local.size(0));
  out.offset = offset_of(out.counts, d.rank);
  out.all = all_gather_with_grad(d, local, out.counts);
  return out;
}

at::Tensor all_gather_values(Dist& d, const at::Tensor& local, const std::vector<int64_t>& counts) {
  if (d.world_size == 1) return local;
  return gather_rows(d.comm_for(local), local.detach(), counts);
}

}  // namespace disttune
