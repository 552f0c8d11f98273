// Communicator: the collectives disttune needs, on tensors and on small host buffers.
// Implementations: LocalCommunicator (world size 1, no MPI), MpiCommunicator (CPU tensors
// and host buffers), NcclCommunicator (CUDA tensors; host work delegated to MPI).
// Every collective must be called by every rank in the same order (MPI semantics).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace disttune {

enum class ReduceOp { Sum, Avg, Max, Min };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string name() const = 0;
  int rank() const { return rank_; }
  int world_size() const { return world_; }

  // In place. Avg divides the sum by the world size (floating types only).
  virtual void all_reduce(at::Tensor& t, ReduceOp op) = 0;
  // Every rank passes the same shape; result is the concatenation along dim 0 in rank order.
  virtual at::Tensor all_gather(const at::Tensor& t) = 0;
  // Dim 0 may differ per rank; other dims must match.
  virtual at::Tensor all_gatherv(const at::Tensor& t) = 0;
  // t has world_size * n rows on every rank; rank r receives rows [r*n, (r+1)*n) reduced.
  virtual at::Tensor reduce_scatter(const at::Tensor& t, ReduceOp op) = 0;
  virtual void broadcast(at::Tensor& t, int root) = 0;
  // Dim 0 may differ per rank. Root receives every rank's tensor; others get an empty list.
  virtual std::vector<at::Tensor> gather(const at::Tensor& t, int root) = 0;
  virtual void barrier() = 0;

  // Host buffers (configs, ids, metrics JSON).
  virtual void broadcast_bytes(std::string& s, int root) = 0;
  virtual std::vector<std::string> all_gather_bytes(const std::string& s) = 0;

  // Small host conveniences built on the above.
  double all_reduce_scalar(double v, ReduceOp op);
  int64_t all_reduce_int(int64_t v, ReduceOp op);

 protected:
  int rank_ = 0, world_ = 1;
};

// World size 1: every collective is the identity (copies where a new tensor is returned).
class LocalCommunicator final : public Communicator {
 public:
  LocalCommunicator() = default;
  std::string name() const override { return "local"; }
  void all_reduce(at::Tensor& t, ReduceOp op) override {}
  at::Tensor all_gather(const at::Tensor& t) override;
  at::Tensor all_gatherv(const at::Tensor& t) override;
  at::Tensor reduce_scatter(const at::Tensor& t, ReduceOp op) override;
  void broadcast(at::Tensor& t, int root) override {}
  std::vector<at::Tensor> gather(const at::Tensor& t, int root) override;
  void barrier() override {}
  void broadcast_bytes(std::string& s, int root) override {}
  std::vector<std::string> all_gather_bytes(const std::string& s) override { return {s}; }
};

}  // namespace disttune
