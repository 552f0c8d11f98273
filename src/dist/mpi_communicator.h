// MPI implementation of Communicator for CPU tensors and host buffers.
#pragma once

#include <mpi.h>

#include "dist/communicator.h"

namespace disttune {

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm);
  std::string name() const override { return "mpi"; }
  MPI_Comm raw() const { return comm_; }

  void all_reduce(at::Tensor& t, ReduceOp op) override;
  at::Tensor all_gather(const at::Tensor& t) override;
  at::Tensor all_gatherv(const at::Tensor& t) override;
  at::Tensor reduce_scatter(const at::Tensor& t, ReduceOp op) override;
  void broadcast(at::Tensor& t, int root) override;
  std::vector<at::Tensor> gather(const at::Tensor& t, int root) override;
  void barrier() override;
  void broadcast_bytes(std::string& s, int root) override;
  std::vector<std::string> all_gather_bytes(const std::string& s) override;

 private:
  MPI_Comm comm_;
};

}  // namespace disttune
