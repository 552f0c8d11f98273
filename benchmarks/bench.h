// Benchmarks: one binary (build/disttune_bench) holding every benchmark, registered with
// DT_BENCHMARK(name, "one-line description"). benchmarks/run drives them and the PyTorch /
// FAISS references side by side. Each benchmark prints a table row and returns a JSON
// object of its figures.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace disttune::bench {

struct BenchArgs {
  std::vector<std::string> args;  // --key=value pairs after the benchmark name
  std::string get(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key, double def) const;
  // --key=1,2,3: non-negative integers separated by commas (def when the key is absent).
  std::vector<int64_t> get_int_list(const std::string& key, const std::string& def) const;
};

using BenchFn = std::function<nlohmann::json(const BenchArgs&)>;

struct BenchRegistration {
  BenchRegistration(const char* name, const char* help, BenchFn fn);
};

// The shared data directory: --data=DIR, else $DISTTUNE_DATA, else ../shared/data beside the
// source tree.
std::string data_dir(const BenchArgs& args);

// The kernel set OpenBLAS chose (or OPENBLAS_CORETYPE forced), "unknown" for other BLAS.
std::string blas_core();
// Monotonic wall-clock time in seconds (differences only).
double now_s();
// Wall-clock seconds of fn(), best of `repeats` after `warmup` untimed runs.
double time_best(const std::function<void()>& fn, int repeats = 3, int warmup = 1);

// Peak resident memory of this process so far (VmHWM), in MiB.
double peak_rss_mib();
// Runs a reference command (e.g. a python3-torch script) and returns the last JSON object
// it printed, or null when it failed.
nlohmann::json run_reference(const std::string& cmd);
// Resident memory now (VmRSS), in MiB.
double rss_mib();
// Resets the peak (VmHWM) to the current resident size, so that the next peak is the next
// phase's (Linux: clear_refs 5). Returns false where the kernel refuses.
bool reset_peak_rss();

}  // namespace disttune::bench

// __COUNTER__, not __LINE__: the unity build puts several benchmark files in one unit.
#define DT_BENCH_CONCAT2(a, b) a##b
#define DT_BENCH_CONCAT(a, b) DT_BENCH_CONCAT2(a, b)
#define DT_BENCHMARK(name, help) DT_BENCHMARK_ID(name, help, __COUNTER__)
#define DT_BENCHMARK_ID(name, help, id)                                                      \
  static nlohmann::json DT_BENCH_CONCAT(bench_fn_, id)(const ::disttune::bench::BenchArgs&); \
  static ::disttune::bench::BenchRegistration DT_BENCH_CONCAT(bench_reg_, id)(               \
      name, help, DT_BENCH_CONCAT(bench_fn_, id));                                           \
  static nlohmann::json DT_BENCH_CONCAT(bench_fn_, id)(const ::disttune::bench::BenchArgs& args)
