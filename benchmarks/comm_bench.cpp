// Communication: all-gather and all-reduce bandwidth over the host communicator for the
// sizes training moves (embeddings of a global batch; gradients of MiniLM/bge-base size).
#include <ATen/ATen.h>

#include "bench.h"
#include "common/log.h"
#include "dist/dist.h"

DT_BENCHMARK("comm", "all-gather / all-reduce bandwidth over MPI (--floats=N --repeats=R)") {
  using namespace disttune;
  Dist& d = dist();
  const int64_t n = args.get_int("floats", 22'700'000);
  const int repeats = static_cast<int>(args.get_int("repeats", 3));
  at::Tensor grad = at::ones({n});
  at::Tensor emb = at::ones({std::max<int64_t>(1, 512 / d.world_size), 384});
  const double t_reduce = bench::time_best([&] { d.comm->all_reduce(grad, ReduceOp::Sum); }, repeats);
  const double t_gather = bench::time_best([&] { d.comm->all_gather(emb); }, repeats);
  // Bus bandwidth as NCCL reports it: all-reduce moves 2(W-1)/W of the buffer per rank.
  const double w = d.world_size;
  const double bytes = n * 4.0;
  nlohmann::json out = {{"benchmark", "comm"},
                        {"world_size", d.world_size},
                        {"allreduce_floats", n},
                        {"allreduce_s", t_reduce},
                        {"allreduce_busbw_GBps", w > 1 ? bytes * 2 * (w - 1) / w / t_reduce / 1e9 : 0.0},
                        {"allgather_rows", emb.size(0) * d.world_size},
                        {"allgather_s", t_gather}};
  print0("comm  world=", d.world_size, "  all_reduce ", n, " floats: ", t_reduce * 1e3,
         " ms   all_gather ", emb.size(0) * d.world_size, "x384: ", t_gather * 1e6, " us");
  return out;
}
