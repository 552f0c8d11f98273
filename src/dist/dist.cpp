#include "dist/dist.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <glog/logging.h>
#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/check.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "dist/mpi_communicator.h"
#include "dist/watchdog.h"
#include "model/cpu_gemm.h"

namespace disttune {
namespace {

Dist* g_dist = nullptr;

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// Which launcher started us; "none" means a plain process (world size 1, no MPI).
std::string detect_launcher() {
  if (env("OMPI_COMM_WORLD_SIZE")) return "mpirun";
  if (env("PMIX_RANK")) return env("SLURM_STEP_ID") ? "srun" : "pmi";
  if (env("PMI_RANK") || env("PMI_SIZE")) return env("SLURM_STEP_ID") ? "srun" : "pmi";
  if (env("SLURM_STEP_ID") && env("SLURM_NTASKS") && std::atoi(env("SLURM_NTASKS")) > 1) {
    // srun without an MPI plugin: every task would believe it is rank 0 of 1.
    std::fprintf(stderr,
                 "disttune: error: started by srun with %s tasks but without an MPI plugin; "
                 "use 'srun --mpi=pmix' (or mpirun inside the allocation)\n",
                 env("SLURM_NTASKS"));
    std::exit(2);
  }
  return "none";
}

int cpus_available() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

// Intra-op threads per rank: an explicit setting wins; a rank bound to a CPU subset uses
// that subset; otherwise the node's CPUs are shared evenly among its ranks.
int choose_threads(int local_size) {
  if (const char* t = env("DISTTUNE_THREADS")) return std::max(1, std::atoi(t));
  if (const char* t = env("OMP_NUM_THREADS")) return std::max(1, std::atoi(t));
  const int avail = cpus_available();
  const int total = static_cast<int>(std::thread::hardware_concurrency());
  if (avail < total) return std::max(1, avail);
  return std::max(1, total / std::max(1, local_size));
}

// One pool of threads per rank. ATen's parallel loops and oneDNN's products share OpenMP's
// team; Debian's OpenBLAS (the pthreads build) keeps a second pool whose workers spin for a
// while after every call, on the cores the OpenMP team needs next (measured on an AVX-512
// VM: the top-k kernel at 2 threads fell from 283 to 66 GFLOP/s after one at::mm). With the
// encoder's products on oneDNN the BLAS is left with small ones (the loss's similarity
// matrix), which run on the calling thread; without oneDNN the BLAS does the heavy products
// and gets every thread.
void set_threads(int n) {
  at::set_num_threads(n);
  openblas_set_threads(cpu_gemm_enabled() ? 1 : n);
}

// The BLAS kernel set, for the log: OpenBLAS picks it from the CPU unless OPENBLAS_CORETYPE
// pins one, and a pin to an AVX2 set on an AVX-512 machine halves the rate of every matrix
// product (Zen 5: 88-92 against 158-178 GFLOP/s per core, docs/benchmarks.md).
std::string blas_kernels() {
  const std::string core = openblas_core();
  if (core.empty()) return "BLAS of unknown kind";
  std::string s = str_cat("OpenBLAS ", core, " kernels on ", openblas_threads(), " thread(s)");
  if (const char* pin = env("OPENBLAS_CORETYPE")) {
    s += str_cat(" (OPENBLAS_CORETYPE=", pin, ")");
    const bool avx512_kernels = core.find("Skylake") != std::string::npos ||
                                core.find("Cooperlake") != std::string::npos ||
                                core.find("SapphireRapids") != std::string::npos;
    if (!avx512_kernels && __builtin_cpu_supports("avx512f"))
      s += "; this CPU has AVX-512: without the pin OpenBLAS would use its AVX-512 kernels";
  }
  return s;
}

// Activations are large, short-lived buffers. glibc's defaults serve them with mmap and give
// them back at once, so every forward/backward pays page faults that cost more than the
// arithmetic on small machines (measured: encode ~2.5x slower). Keep them in the heap: the
// mmap threshold cannot be raised above 32 MiB, and a MiniLM step at batch 64 has 50 MB
// attention buffers, so mmap is turned off altogether (train step 2.5x faster at 1 thread,
// 1.6x at 2); the freed top of the heap is returned to the system above 1 GiB.
void tune_malloc() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace

void openblas_set_threads(int n) {
  using SetFn = void (*)(int);
  if (auto fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(n);
}

int openblas_threads() {
  using GetFn = int (*)();
  auto fn = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return fn ? fn() : 0;
}

std::string openblas_core() {
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return fn ? fn() : "";
}

Communicator& Dist::comm_for(const at::Tensor& t) {
  if (t.device().is_cuda()) {
    DT_CHECK(device_comm != nullptr, "CUDA tensor but no NCCL communicator (dist_enable_nccl)");
    return *device_comm;
  }
  return *comm;
}

Dist& dist_init(int* argc, char*** argv) {
  DT_CHECK(g_dist == nullptr, "dist_init called twice");
  tune_malloc();
  auto* d = new Dist();
  d->launcher = detect_launcher();
  if (d->launcher != "none") {
    int provided = 0;
    // SERIALIZED: collectives may be issued from autograd hooks on another thread, never
    // concurrently.
    MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
    d->mpi = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->world_size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &d->local_rank);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    // Errors come back as return codes so that they are reported through dist_fatal.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    d->comm = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
  } else {
    d->comm = std::make_unique<LocalCommunicator>();
  }
  set_console_rank(d->rank);
  failpoint_init(d->rank);
  d->threads = choose_threads(d->local_size);
  set_threads(d->threads);
  d->blas = blas_kernels();
  g_dist = d;
  if (d->world_size > 1) watchdog_start(d->rank, 900);
  return *d;
}

void dist_free() {
  if (!g_dist) return;
  watchdog_stop();
  g_dist->device_comm.reset();
  g_dist->comm.reset();
  if (g_dist->mpi) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  delete g_dist;
  g_dist = nullptr;
}

Dist& dist() {
  DT_CHECK(g_dist != nullptr, "dist_init has not been called");
  return *g_dist;
}

bool dist_initialized() { return g_dist != nullptr; }

void dist_set_timeout(double seconds) { watchdog_set_timeout(seconds); }
double dist_timeout() { return watchdog_timeout(); }

void dist_fatal(const std::string& msg) {
  const int rank = g_dist ? g_dist->rank : 0;
  const int world = g_dist ? g_dist->world_size : 1;
  LOG(ERROR) << "fatal: " << msg;
  log_flush();
  std::fflush(stdout);
  if (rank != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  if (rank != 0)
    std::fprintf(stderr, "disttune: error: rank %d: %s\n", rank, msg.c_str());
  else
    std::fprintf(stderr, "disttune: error: %s\n", msg.c_str());
  std::fflush(stderr);
  if (g_dist && g_dist->mpi && world > 1) {
    // Open MPI 5's launcher drops what a rank wrote just before MPI_Abort when the abort
    // reaches it first (the message vanished in 2 of 10 runs at np 4): give its output
    // forwarding a moment, well inside the other ranks' 1.5 s.
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  std::_Exit(1);
}

#ifndef DISTTUNE_HAVE_NCCL
void dist_enable_nccl(Dist&, int) {
  DT_FAIL("distributed.backend: this disttune was built without NCCL (CUDA and NCCL were not "
          "found at configure time); rebuild with CUDA, or use distributed.backend: mpi");
}
#endif

}  // namespace disttune
