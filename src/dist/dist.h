// The distributed state of one disttune process: created once by dist_init() at the start
// of main and torn down once by dist_free(). Everything that needs ranks or collectives
// takes a Dist&.
#pragma once

#include <memory>
#include <string>

#include "dist/communicator.h"

namespace disttune {

struct Dist {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;   // rank among the processes on this node
  int local_size = 1;
  int threads = 1;      // intra-op threads this rank uses
  std::string blas;     // the BLAS kernel set and what pins it, for the logs
  std::string launcher = "none";  // none | mpirun | srun | pmi
  bool mpi = false;               // MPI was initialised by dist_init
  std::unique_ptr<Communicator> comm;  // host/CPU collectives (MPI, or local at world size 1)
  std::unique_ptr<Communicator> device_comm;  // CUDA collectives (NCCL) once enabled

  // The communicator for tensors on `t`'s device.
  Communicator& comm_for(const at::Tensor& t);
  bool is_root() const { return rank == 0; }
};

// Initialises MPI when launched by mpirun/srun/a PMI launcher (world size 1 otherwise, with
// no MPI at all), sets per-rank thread counts and the console rank, starts the collective
// watchdog. Returns the process-wide Dist.
Dist& dist_init(int* argc, char*** argv);
void dist_free();
Dist& dist();  // after dist_init
bool dist_initialized();

// Creates the NCCL communicator for CUDA tensors on `cuda_device` (its unique id is
// broadcast over MPI). Throws UserError when disttune was built without NCCL.
void dist_enable_nccl(Dist& d, int cuda_device);

// The kernel set of the OpenBLAS behind libtorch ("Haswell", "Cooperlake", ...: chosen from
// the CPU unless OPENBLAS_CORETYPE pins one); "" when the BLAS is not OpenBLAS.
std::string openblas_core();
// The size of OpenBLAS's own thread pool (dist_init sets it: 1 when the encoder's products run
// on oneDNN, else the rank's threads); no-op / 0 when the BLAS is not OpenBLAS. The top-k
// benchmark gives FAISS, whose products are OpenBLAS's, every thread for its run.
void openblas_set_threads(int n);
int openblas_threads();

// Collective timeout (seconds): a collective that has not completed by then ends the job.
void dist_set_timeout(double seconds);
double dist_timeout();

// Reports `msg` on stderr (one line, "disttune: error: msg", "rank r: msg" for r > 0) and in this rank's
// log, then ends the whole job: MPI_Abort under a launcher, exit(1) otherwise. Ranks other
// than 0 wait briefly first so that an error every rank hits is reported once, by rank 0.
[[noreturn]] void dist_fatal(const std::string& msg);

}  // namespace disttune
