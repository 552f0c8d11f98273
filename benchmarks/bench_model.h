// What the model benchmarks (encode, train) share: a random BERT of the shape given by
// --layers/--hidden/--heads/--intermediate, and running its PyTorch eager twin
// (benchmarks/ref_*.py, same shape and thread count) to put the two rates side by side.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <cstdlib>
#include <string>

#include "bench.h"
#include "common/check.h"
#include "common/log.h"
#include "dist/dist.h"
#include "model/sentence_model.h"

namespace disttune::bench {

// MiniLM's shape unless the arguments say otherwise.
inline InitOptions model_shape(const BenchArgs& args) {
  InitOptions init;
  init.vocab = std::string(DISTTUNE_SOURCE_DIR) + "/datasets/vocab/bert-base-uncased.txt";
  init.num_layers = static_cast<int>(args.get_int("layers", 6));
  init.hidden_size = static_cast<int>(args.get_int("hidden", 384));
  init.num_heads = static_cast<int>(args.get_int("heads", 12));
  init.intermediate_size = static_cast<int>(args.get_int("intermediate", 1536));
  return init;
}

// Runs benchmarks/<script> with this process's thread count (PyTorch's intra-op pool and
// the BLAS behind it), the model shape and `flags`; stores its JSON in result["pytorch_eager"]
// and the ratio of `rate` to the reference's `rate_key` in result["speedup_vs_pytorch_eager"];
// prints the reference's rate in `unit` after `label`.
inline void compare_with_pytorch(const std::string& label, const std::string& script,
                                 const std::string& flags, const InitOptions& shape, double rate,
                                 const std::string& rate_key, const std::string& unit,
                                 nlohmann::json& result) {
  const int threads = at::get_num_threads();
  // DISTTUNE_PYTHON (benchmarks/run --python): an interpreter other than Debian's, such as a
  // GPU machine's with a CUDA torch.
  const char* python = std::getenv("DISTTUNE_PYTHON");
  const std::string cmd = str_cat(
      "cd ", DISTTUNE_SOURCE_DIR, "/benchmarks && OMP_NUM_THREADS=", threads,
      " OPENBLAS_NUM_THREADS=", threads, " ", python && *python ? python : "/usr/bin/python3", " ", script,
      " --threads ", threads,
      " --layers ", shape.num_layers, " --hidden ", shape.hidden_size, " --heads ", shape.num_heads,
      " --intermediate ", shape.intermediate_size, " ", flags);
  nlohmann::json ref = run_reference(cmd);
  result["pytorch_eager"] = ref;
  if (ref.is_null()) return;
  const double ratio = rate / ref[rate_key].get<double>();
  result["speedup_vs_pytorch_eager"] = ratio;
  print0(label, "PyTorch eager (", ref["torch"].get<std::string>(), "): ", ref[rate_key].get<double>(),
         " ", unit, "; disttune / PyTorch = ", ratio);
}

// Waits for the work queued on t's device (a no-op on the CPU): reading one element back
// waits for the stream that wrote it, with no CUDA header needed here.
inline void sync(const at::Tensor& t) {
  if (t.is_cuda()) t.reshape(-1)[0].item<double>();
}

// --device and --precision as the trainer reads training.device and training.precision.
struct Placement {
  at::Device device = at::kCPU;
  std::string precision = "fp32";
  at::ScalarType dtype = at::kFloat;
};
inline Placement placement(const BenchArgs& args, const Dist& d) {
  Placement pl;
  const std::string dev = args.get("device", "cpu");
  pl.precision = args.get("precision", "fp32");
  DT_REQUIRE(dev == "cpu" || dev == "cuda", "--device: '", dev, "' (expected cpu or cuda)");
  DT_REQUIRE(pl.precision == "fp32" || pl.precision == "bf16", "--precision: '", pl.precision,
             "' (expected fp32 or bf16)");
  if (dev == "cuda") {
    const int gpus = at::detail::getCUDAHooks().getNumGPUs();
    DT_REQUIRE(gpus > 0, "--device=cuda: no CUDA device is available");
    pl.device = at::Device(at::kCUDA, static_cast<at::DeviceIndex>(d.local_rank % gpus));
  }
  pl.dtype = pl.precision == "bf16" ? at::kBFloat16 : at::kFloat;
  return pl;
}

// The same placement for a reference script (benchmarks/ref_*.py take --device, --precision).
inline std::string reference_flags(const Placement& pl) {
  return str_cat(" --device ", pl.device.is_cuda() ? "cuda" : "cpu", " --precision ", pl.precision);
}

}  // namespace disttune::bench
