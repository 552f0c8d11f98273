// NCCL implementation of Communicator for CUDA tensors. Compiled whenever CUDA and NCCL
// are found (also against a CPU-only libtorch, so that CI keeps it building); CPU tensors
// and host buffers go to the MPI communicator it wraps. The NCCL unique id is created by
// rank 0 and broadcast over MPI.
#include <ATen/ATen.h>
#include <cuda_runtime.h>
#include <glog/logging.h>
#include <nccl.h>

#include <chrono>
#include <thread>

#include "common/check.h"
#include "dist/dist.h"
#include "dist/mpi_communicator.h"
#include "dist/watchdog.h"

#ifdef DISTTUNE_TORCH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace disttune {
namespace {

void cuda_check(cudaError_t e, const char* what) {
  DT_CHECK(e == cudaSuccess, what, ": ", cudaGetErrorString(e));
}

void nccl_check(ncclResult_t r, const char* what) {
  DT_CHECK(r == ncclSuccess, what, ": ", ncclGetErrorString(r));
}

ncclDataType_t nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kHalf: return ncclFloat16;
    case at::kBFloat16: return ncclBfloat16;
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kChar: return ncclInt8;
    case at::kByte:
    case at::kBool: return ncclUint8;
    default: DT_CHECK(false, "NCCL: unsupported dtype ", t);
  }
  return ncclFloat32;
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Avg: return ncclAvg;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  return ncclSum;
}

// The stream torch queues work on; NCCL calls go on the same stream so that ordering with
// the surrounding kernels needs no extra events.
cudaStream_t torch_stream(int device) {
#ifdef DISTTUNE_TORCH_CUDA
  return c10::cuda::getCurrentCUDAStream(device).stream();
#else
  (void)device;
  return cudaStreamLegacy;
#endif
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(MpiCommunicator* host, int device) : host_(host), device_(device) {
    rank_ = host->rank();
    world_ = host->world_size();
    cuda_check(cudaSetDevice(device_), "cudaSetDevice");
    ncclUniqueId id;
    if (rank_ == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    std::string bytes(reinterpret_cast<const char*>(&id), sizeof id);
    host_->broadcast_bytes(bytes, 0);
    std::memcpy(&id, bytes.data(), sizeof id);
    CollectiveScope scope("ncclCommInitRank");
    nccl_check(ncclCommInitRank(&comm_, world_, id, rank_), "ncclCommInitRank");
    LOG(INFO) << "NCCL communicator ready on device " << device_ << " (" << world_ << " ranks)";
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);
  }
  std::string name() const override { return "nccl"; }

  void all_reduce(at::Tensor& t, ReduceOp op) override {
    if (!t.is_cuda()) return host_->all_reduce(t, op);
    at::Tensor c = t.is_contiguous() ? t : t.contiguous();
    run("all_reduce", [&](cudaStream_t s) {
      return ncclAllReduce(c.data_ptr(), c.data_ptr(), c.numel(), nccl_type(c.scalar_type()),
                           nccl_op(op), comm_, s);
    });
    if (!c.is_same(t)) t.copy_(c);
  }

  at::Tensor all_gather(const at::Tensor& t) override {
    if (!t.is_cuda()) return host_->all_gather(t);
    at::Tensor c = t.contiguous();
    std::vector<int64_t> shape = c.sizes().vec();
    shape[0] *= world_;
    at::Tensor out = at::empty(shape, c.options());
    run("all_gather", [&](cudaStream_t s) {
      return ncclAllGather(c.data_ptr(), out.data_ptr(), c.numel(), nccl_type(c.scalar_type()),
                           comm_, s);
    });
    return out;
  }

  at::Tensor all_gatherv(const at::Tensor& t) override {
    if (!t.is_cuda()) return host_->all_gatherv(t);
    // NCCL has no gatherv: pad every rank to the largest slice, gather, then drop padding.
    std::string mine(reinterpret_cast<const char*>(&t.sizes()[0]), sizeof(int64_t));
    std::vector<std::string> sizes = host_->all_gather_bytes(mine);
    std::vector<int64_t> rows(world_);
    int64_t max_rows = 0;
    for (int r = 0; r < world_; ++r) {
      std::memcpy(&rows[r], sizes[r].data(), sizeof(int64_t));
      max_rows = std::max(max_rows, rows[r]);
    }
    std::vector<int64_t> padded_shape = t.sizes().vec();
    padded_shape[0] = max_rows;
    at::Tensor padded = at::zeros(padded_shape, t.options());
    padded.narrow(0, 0, t.size(0)).copy_(t);
    at::Tensor all = all_gather(padded);
    std::vector<at::Tensor> parts;
    for (int r = 0; r < world_; ++r) parts.push_back(all.narrow(0, r * max_rows, rows[r]));
    return at::cat(parts, 0);
  }

  at::Tensor reduce_scatter(const at::Tensor& t, ReduceOp op) override {
    if (!t.is_cuda()) return host_->reduce_scatter(t, op);
    at::Tensor c = t.contiguous();
    DT_CHECK(c.size(0) % world_ == 0, "reduce_scatter: dim 0 must divide by the world size");
    std::vector<int64_t> shape = c.sizes().vec();
    shape[0] /= world_;
    at::Tensor out = at::empty(shape, c.options());
    run("reduce_scatter", [&](cudaStream_t s) {
      return ncclReduceScatter(c.data_ptr(), out.data_ptr(), out.numel(),
                               nccl_type(c.scalar_type()), nccl_op(op), comm_, s);
    });
    return out;
  }

  void broadcast(at::Tensor& t, int root) override {
    if (!t.is_cuda()) return host_->broadcast(t, root);
    at::Tensor c = t.is_contiguous() ? t : t.contiguous();
    run("broadcast", [&](cudaStream_t s) {
      return ncclBroadcast(c.data_ptr(), c.data_ptr(), c.numel(), nccl_type(c.scalar_type()),
                           root, comm_, s);
    });
    if (!c.is_same(t)) t.copy_(c);
  }

  std::vector<at::Tensor> gather(const at::Tensor& t, int root) override {
    // Gathers are for results (top-k lists, metrics), small and read on the host.
    return host_->gather(t.cpu(), root);
  }

  void barrier() override { host_->barrier(); }
  void broadcast_bytes(std::string& s, int root) override { host_->broadcast_bytes(s, root); }
  std::vector<std::string> all_gather_bytes(const std::string& s) override {
    return host_->all_gather_bytes(s);
  }

 private:
  // Enqueues one NCCL call on torch's stream and waits for it under the watchdog, polling
  // NCCL's asynchronous error so that a failed peer is reported instead of waited on.
  template <typename F>
  void run(const char* what, F&& enqueue) {
    cudaStream_t s = torch_stream(device_);
    CollectiveScope scope(what);
    nccl_check(enqueue(s), what);
    for (;;) {
      cudaError_t q = cudaStreamQuery(s);
      if (q == cudaSuccess) break;
      if (q != cudaErrorNotReady) cuda_check(q, what);
      ncclResult_t async_err = ncclSuccess;
      nccl_check(ncclCommGetAsyncError(comm_, &async_err), "ncclCommGetAsyncError");
      nccl_check(async_err, what);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  MpiCommunicator* host_;
  int device_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

void dist_enable_nccl(Dist& d, int cuda_device) {
  if (d.device_comm) return;
  auto* host = dynamic_cast<MpiCommunicator*>(d.comm.get());
  if (!host) {
    // World size 1 without a launcher: CUDA tensors need no collectives at all.
    d.device_comm = std::make_unique<LocalCommunicator>();
    return;
  }
  d.device_comm = std::make_unique<NcclCommunicator>(host, cuda_device);
}

}  // namespace disttune
