// Snapshot and restore of the default random generators (CPU and every CUDA device): what
// dropout draws from. GradCache and gradient checkpointing replay it so that a recomputed
// forward draws what the first one drew; checkpoints can store it.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace disttune {

struct RngState {
  at::Tensor cpu;                // the CPU generator's state (uint8)
  std::vector<at::Tensor> cuda;  // per CUDA device, empty without CUDA
};

RngState capture_rng();
void restore_rng(const RngState& s);

}  // namespace disttune
