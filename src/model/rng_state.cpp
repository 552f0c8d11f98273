#include "model/rng_state.h"

#include <ATen/ATen.h>

#include <mutex>

#include "common/check.h"

namespace disttune {
namespace {

at::Tensor get(const at::Generator& g) {
  at::Generator gen = g;
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set(const at::Generator& g, const at::Tensor& state) {
  at::Generator gen = g;
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace

RngState capture_rng() {
  RngState s;
  s.cpu = get(at::globalContext().defaultGenerator(at::kCPU));
  if (at::hasCUDA()) {
    for (size_t i = 0; i < at::getNumGPUs(); ++i)
      s.cuda.push_back(get(at::globalContext().defaultGenerator(
          at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)))));
  }
  return s;
}

void restore_rng(const RngState& s) {
  DT_CHECK(s.cpu.defined(), "restore_rng: empty state");
  set(at::globalContext().defaultGenerator(at::kCPU), s.cpu);
  for (size_t i = 0; i < s.cuda.size(); ++i)
    set(at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i))),
        s.cuda[i]);
}

}  // namespace disttune
