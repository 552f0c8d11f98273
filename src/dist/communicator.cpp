#include "dist/communicator.h"

#include <ATen/ATen.h>

namespace disttune {

double Communicator::all_reduce_scalar(double v, ReduceOp op) {
  at::Tensor t = at::full({1}, v, at::kDouble);
  all_reduce(t, op);
  return t.item<double>();
}

int64_t Communicator::all_reduce_int(int64_t v, ReduceOp op) {
  at::Tensor t = at::full({1}, v, at::kLong);
  all_reduce(t, op);
  return t.item<int64_t>();
}

at::Tensor LocalCommunicator::all_gather(const at::Tensor& t) { return t.clone(); }
at::Tensor LocalCommunicator::all_gatherv(const at::Tensor& t) { return t.clone(); }
at::Tensor LocalCommunicator::reduce_scatter(const at::Tensor& t, ReduceOp) { return t.clone(); }
std::vector<at::Tensor> LocalCommunicator::gather(const at::Tensor& t, int) { return {t.clone()}; }

}  // namespace disttune
