// Communication: all-reduce and all-gather over the host communicator for the sizes
// training moves: gradients of MiniLM (22.7M) and bge-base (109.5M) parameters, the
// embeddings of a global batch of 512 (anchors and positives, 384 and 768 wide), and a
// one-float all-reduce for the latency term. benchmarks/scaling_model.py reads the figures.
#include <ATen/ATen.h>


#include "bench.h"
#include "common/log.h"
#include "dist/dist.h"

DT_BENCHMARK("comm", "all-reduce / all-gather time and bus bandwidth over MPI (--floats=N,M "
                     "--rows=512 --dims=384,768 --repeats=R)") {
  using namespace disttune;
  Dist& d = dist();
  const std::vector<int64_t> floats = args.get_int_list("floats", "22700000,109500000");
  const std::vector<int64_t> dims = args.get_int_list("dims", "384,768");
  const int64_t rows = args.get_int("rows", 512);
  const int repeats = static_cast<int>(args.get_int("repeats", 3));
  const double w = d.world_size;
  nlohmann::json out = {{"benchmark", "comm"}, {"world_size", d.world_size},
                        {"all_reduce", nlohmann::json::array()}, {"all_gather", nlohmann::json::array()}};

  at::Tensor one = at::ones({1});
  const double t_latency = bench::time_best([&] { d.comm->all_reduce(one, ReduceOp::Sum); }, 20, 5);
  out["all_reduce_1_float_s"] = t_latency;
  print0("comm  world=", d.world_size, "  all_reduce 1 float: ", t_latency * 1e6, " us");
  for (int64_t n : floats) {
    at::Tensor grad = at::ones({n});
    const double t = bench::time_best([&] { d.comm->all_reduce(grad, ReduceOp::Sum); }, repeats);
    // Bus bandwidth as NCCL reports it: a ring all-reduce moves 2(W-1)/W of the buffer per rank.
    const double busbw = w > 1 ? n * 4.0 * 2 * (w - 1) / w / t / 1e9 : 0.0;
    out["all_reduce"].push_back({{"floats", n}, {"bytes", n * 4}, {"seconds", t}, {"busbw_GBps", busbw}});
    print0("comm  world=", d.world_size, "  all_reduce ", n / 1e6, "M floats (", n * 4 / 1e6, " MB): ",
           t * 1e3, " ms, bus bandwidth ", busbw, " GB/s");
  }
  for (int64_t dim : dims) {
    // Both columns of a global batch, as MNRL gathers them (anchors and positives).
    at::Tensor emb = at::ones({std::max<int64_t>(1, 2 * rows / d.world_size), dim});
    const double t = bench::time_best([&] { d.comm->all_gather(emb); }, repeats * 3, 1);
    const int64_t total = emb.size(0) * d.world_size;
    // An all-gather moves (W-1)/W of the result per rank.
    const double busbw = w > 1 ? total * dim * 4.0 * (w - 1) / w / t / 1e9 : 0.0;
    out["all_gather"].push_back({{"rows", total}, {"dim", dim}, {"bytes", total * dim * 4}, {"seconds", t},
                                 {"busbw_GBps", busbw}});
    print0("comm  world=", d.world_size, "  all_gather ", total, "x", dim, " floats: ", t * 1e6,
           " us, bus bandwidth ", busbw, " GB/s");
  }
  return out;
}
