#include "dist/mpi_communicator.h"

#include <ATen/ATen.h>

#include <climits>

#include "common/check.h"
#include "dist/watchdog.h"

namespace disttune {
namespace {

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, buf, &len);
  DT_CHECK(false, what, " failed: ", std::string(buf, len));
}

MPI_Datatype mpi_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kShort: return MPI_INT16_T;
    case at::kChar: return MPI_INT8_T;
    case at::kByte: return MPI_UINT8_T;
    case at::kBool: return MPI_C_BOOL;
    default: return MPI_DATATYPE_NULL;
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg: return MPI_SUM;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Min: return MPI_MIN;
  }
  return MPI_SUM;
}

int checked_count(int64_t n) {
  DT_CHECK(n <= INT_MAX, "message of ", n, " elements exceeds the MPI count limit");
  return static_cast<int>(n);
}

void check_cpu(const at::Tensor& t, const char* what) {
  DT_CHECK(t.defined(), what, ": undefined tensor");
  DT_CHECK(t.device().is_cpu(), what, ": MPI collectives take CPU tensors, got ", t.device());
}

// Reductions on half types go through float: MPI has no bf16/fp16 arithmetic.
bool needs_float_staging(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf;
}

int64_t row_elements(const at::Tensor& t) {
  int64_t n = 1;
  for (int64_t i = 1; i < t.dim(); ++i) n *= t.size(i);
  return n;
}

// MPI byte counts and displacements for `rows[r]` rows of `row_bytes` each; returns the
// total number of rows.
int64_t byte_layout(const std::vector<int64_t>& rows, int64_t row_bytes, std::vector<int>* counts,
                    std::vector<int>* displs) {
  counts->assign(rows.size(), 0);
  displs->assign(rows.size(), 0);
  int64_t off = 0, total = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    (*counts)[r] = checked_count(rows[r] * row_bytes);
    (*displs)[r] = checked_count(off);
    off += rows[r] * row_bytes;
    total += rows[r];
  }
  return total;
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : comm_(comm) {
  mpi_check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  mpi_check(MPI_Comm_size(comm_, &world_), "MPI_Comm_size");
}

void MpiCommunicator::all_reduce(at::Tensor& t, ReduceOp op) {
  check_cpu(t, "all_reduce");
  if (needs_float_staging(t)) {
    at::Tensor f = t.to(at::kFloat);
    all_reduce(f, op);
    t.copy_(f);
    return;
  }
  DT_CHECK(op != ReduceOp::Avg || at::isFloatingType(t.scalar_type()),
           "all_reduce Avg needs a floating tensor");
  at::Tensor c = t.is_contiguous() ? t : t.contiguous();
  MPI_Datatype dt = mpi_type(c.scalar_type());
  DT_CHECK(dt != MPI_DATATYPE_NULL, "all_reduce: unsupported dtype ", c.scalar_type());
  {
    CollectiveScope scope("all_reduce");
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, c.data_ptr(), checked_count(c.numel()), dt, mpi_op(op),
                            comm_),
              "MPI_Allreduce");
  }
  if (op == ReduceOp::Avg) c.div_(world_);
  if (!c.is_same(t)) t.copy_(c);
}

at::Tensor MpiCommunicator::all_gather(const at::Tensor& t) {
  check_cpu(t, "all_gather");
  at::Tensor c = t.contiguous();
  std::vector<int64_t> shape = c.sizes().vec();
  DT_CHECK(!shape.empty(), "all_gather needs at least one dimension");
  shape[0] *= world_;
  at::Tensor out = at::empty(shape, c.options());
  const int64_t bytes = c.numel() * static_cast<int64_t>(c.element_size());
  CollectiveScope scope("all_gather");
  mpi_check(MPI_Allgather(c.data_ptr(), checked_count(bytes), MPI_BYTE, out.data_ptr(),
                          checked_count(bytes), MPI_BYTE, comm_),
            "MPI_Allgather");
  return out;
}

at::Tensor MpiCommunicator::all_gatherv(const at::Tensor& t) {
  check_cpu(t, "all_gatherv");
  at::Tensor c = t.contiguous();
  DT_CHECK(c.dim() >= 1, "all_gatherv needs at least one dimension");
  const int64_t per_row = row_elements(c);
  // Agree on the row shape first so that a mismatch is an error, not memory corruption.
  int64_t mine[2] = {c.size(0), per_row};
  std::vector<int64_t> all(2 * world_);
  {
    CollectiveScope scope("all_gatherv");
    mpi_check(MPI_Allgather(mine, 2, MPI_INT64_T, all.data(), 2, MPI_INT64_T, comm_),
              "MPI_Allgather");
  }
  std::vector<int64_t> rows(world_);
  for (int r = 0; r < world_; ++r) {
    DT_CHECK(all[2 * r + 1] == per_row, "all_gatherv: rank ", r, " sends rows of ",
             all[2 * r + 1], " elements, rank ", rank_, " of ", per_row);
    rows[r] = all[2 * r];
  }
  std::vector<int> counts, displs;
  const int64_t total = byte_layout(rows, per_row * c.element_size(), &counts, &displs);
  std::vector<int64_t> shape = c.sizes().vec();
  shape[0] = total;
  at::Tensor out = at::empty(shape, c.options());
  CollectiveScope scope("all_gatherv");
  mpi_check(MPI_Allgatherv(c.data_ptr(), counts[rank_], MPI_BYTE, out.data_ptr(), counts.data(),
                           displs.data(), MPI_BYTE, comm_),
            "MPI_Allgatherv");
  return out;
}

at::Tensor MpiCommunicator::reduce_scatter(const at::Tensor& t, ReduceOp op) {
  check_cpu(t, "reduce_scatter");
  if (needs_float_staging(t)) return reduce_scatter(t.to(at::kFloat), op).to(t.scalar_type());
  at::Tensor c = t.contiguous();
  DT_CHECK(c.dim() >= 1 && c.size(0) % world_ == 0, "reduce_scatter: dim 0 (", c.size(0),
           ") must divide by the world size ", world_);
  std::vector<int64_t> shape = c.sizes().vec();
  shape[0] /= world_;
  at::Tensor out = at::empty(shape, c.options());
  MPI_Datatype dt = mpi_type(c.scalar_type());
  DT_CHECK(dt != MPI_DATATYPE_NULL, "reduce_scatter: unsupported dtype ", c.scalar_type());
  {
    CollectiveScope scope("reduce_scatter");
    mpi_check(MPI_Reduce_scatter_block(c.data_ptr(), out.data_ptr(), checked_count(out.numel()), dt,
                                       mpi_op(op), comm_),
              "MPI_Reduce_scatter_block");
  }
  if (op == ReduceOp::Avg) out.div_(world_);
  return out;
}

void MpiCommunicator::broadcast(at::Tensor& t, int root) {
  check_cpu(t, "broadcast");
  at::Tensor c = t.is_contiguous() ? t : t.contiguous();
  {
    CollectiveScope scope("broadcast");
    mpi_check(MPI_Bcast(c.data_ptr(), checked_count(c.nbytes()), MPI_BYTE, root, comm_),
              "MPI_Bcast");
  }
  if (!c.is_same(t)) t.copy_(c);
}

std::vector<at::Tensor> MpiCommunicator::gather(const at::Tensor& t, int root) {
  check_cpu(t, "gather");
  at::Tensor c = t.contiguous();
  DT_CHECK(c.dim() >= 1, "gather needs at least one dimension");
  const int64_t per_row = row_elements(c);
  int64_t mine[2] = {c.size(0), per_row};
  std::vector<int64_t> all(2 * world_);
  {
    CollectiveScope scope("gather");
    mpi_check(MPI_Gather(mine, 2, MPI_INT64_T, all.data(), 2, MPI_INT64_T, root, comm_),
              "MPI_Gather");
  }
  std::vector<int64_t> rows(world_);
  std::vector<int> counts, displs;
  at::Tensor gathered;
  if (rank_ == root) {
    for (int r = 0; r < world_; ++r) {
      DT_CHECK(all[2 * r + 1] == per_row, "gather: rank ", r, " sends rows of ", all[2 * r + 1],
               " elements, root expects ", per_row);
      rows[r] = all[2 * r];
    }
    std::vector<int64_t> shape = c.sizes().vec();
    shape[0] = byte_layout(rows, per_row * c.element_size(), &counts, &displs);
    gathered = at::empty(shape, c.options());
  }
  {
    CollectiveScope scope("gather");
    mpi_check(MPI_Gatherv(c.data_ptr(), checked_count(c.nbytes()), MPI_BYTE,
                          rank_ == root ? gathered.data_ptr() : nullptr, counts.data(),
                          displs.data(), MPI_BYTE, root, comm_),
              "MPI_Gatherv");
  }
  std::vector<at::Tensor> out;
  if (rank_ == root) {
    int64_t off = 0;
    for (int r = 0; r < world_; ++r) {
      out.push_back(gathered.narrow(0, off, rows[r]));
      off += rows[r];
    }
  }
  return out;
}

void MpiCommunicator::barrier() {
  CollectiveScope scope("barrier");
  mpi_check(MPI_Barrier(comm_), "MPI_Barrier");
}

void MpiCommunicator::broadcast_bytes(std::string& s, int root) {
  int64_t n = static_cast<int64_t>(s.size());
  {
    CollectiveScope scope("broadcast_bytes");
    mpi_check(MPI_Bcast(&n, 1, MPI_INT64_T, root, comm_), "MPI_Bcast");
    s.resize(static_cast<size_t>(n));
    mpi_check(MPI_Bcast(s.data(), checked_count(n), MPI_BYTE, root, comm_), "MPI_Bcast");
  }
}

std::vector<std::string> MpiCommunicator::all_gather_bytes(const std::string& s) {
  int64_t n = static_cast<int64_t>(s.size());
  std::vector<int64_t> sizes(world_);
  CollectiveScope scope("all_gather_bytes");
  mpi_check(MPI_Allgather(&n, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, comm_),
            "MPI_Allgather");
  std::vector<int> counts, displs;
  std::string all(static_cast<size_t>(byte_layout(sizes, 1, &counts, &displs)), '\0');
  mpi_check(MPI_Allgatherv(s.data(), counts[rank_], MPI_BYTE, all.data(), counts.data(),
                           displs.data(), MPI_BYTE, comm_),
            "MPI_Allgatherv");
  std::vector<std::string> out;
  for (int r = 0; r < world_; ++r) out.push_back(all.substr(displs[r], counts[r]));
  return out;
}

}  // namespace disttune
