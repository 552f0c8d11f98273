// Does an MPI non-blocking all-reduce progress while this rank computes? The answer
// decides whether GradReducer can overlap the gradient all-reduce with backward. Times,
// for a gradient-sized buffer and a fixed amount of compute (matrix products):
//   serial      all-reduce, then compute
//   nonblocking MPI_Iallreduce, compute without MPI calls, MPI_Wait
//   poked       MPI_Iallreduce, compute with an MPI_Test after every product, MPI_Wait
// Overlap would show as nonblocking (or poked) well below serial.
#include <ATen/ATen.h>
#include <mpi.h>

#include "bench.h"
#include "common/log.h"
#include "dist/dist.h"
#include "dist/mpi_communicator.h"

DT_BENCHMARK("overlap", "MPI_Iallreduce progress during compute (--floats=N --products=K --repeats=R)") {
  using namespace disttune;
  Dist& d = dist();
  auto* mpi = dynamic_cast<MpiCommunicator*>(d.comm.get());
  if (!mpi) {
    print0("overlap: needs MPI (run under mpirun -np 2 or more)");
    return nlohmann::json{{"benchmark", "overlap"}, {"skipped", "world size 1"}};
  }
  const int64_t n = args.get_int("floats", 25 << 18);  // 25 MB: one default bucket
  const int products = static_cast<int>(args.get_int("products", 40));
  const int repeats = static_cast<int>(args.get_int("repeats", 5));
  at::Tensor buf = at::ones({n});
  at::Tensor a = at::randn({256, 256}), b = at::randn({256, 256});
  auto compute = [&](MPI_Request* poke) {
    for (int i = 0; i < products; ++i) {
      a = at::tanh(at::mm(a, b) * 0.01);
      if (poke) {
        int done = 0;
        MPI_Test(poke, &done, MPI_STATUS_IGNORE);
      }
    }
  };
  auto iallreduce = [&](MPI_Request* req) {
    MPI_Iallreduce(MPI_IN_PLACE, buf.data_ptr<float>(), static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                   mpi->raw(), req);
  };
  auto timed = [&](const std::function<void()>& fn) {
    return bench::time_best([&] { mpi->barrier(); fn(); }, repeats, 1);
  };
  const double t_reduce = timed([&] { MPI_Allreduce(MPI_IN_PLACE, buf.data_ptr<float>(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, mpi->raw()); });
  const double t_compute = timed([&] { compute(nullptr); });
  const double t_serial = timed([&] {
    MPI_Allreduce(MPI_IN_PLACE, buf.data_ptr<float>(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, mpi->raw());
    compute(nullptr);
  });
  const double t_nonblocking = timed([&] {
    MPI_Request r;
    iallreduce(&r);
    compute(nullptr);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
  });
  const double t_poked = timed([&] {
    MPI_Request r;
    iallreduce(&r);
    compute(&r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
  });
  print0("overlap world=", d.world_size, " threads=", d.threads, "  all-reduce ", n * 4 / 1e6, " MB: ",
         t_reduce * 1e3, " ms  compute: ", t_compute * 1e3, " ms  serial: ", t_serial * 1e3,
         " ms  nonblocking: ", t_nonblocking * 1e3, " ms  poked: ", t_poked * 1e3, " ms");
  return nlohmann::json{{"benchmark", "overlap"}, {"world_size", d.world_size}, {"bytes", n * 4},
                        {"allreduce_s", t_reduce}, {"compute_s", t_compute}, {"serial_s", t_serial},
                        {"nonblocking_s", t_nonblocking}, {"poked_s", t_poked}};
}
