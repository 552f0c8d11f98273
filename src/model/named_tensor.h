// A tensor with its Hugging Face name: the unit of model state that safetensors files,
// checkpoints and optimisers exchange.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace disttune {

struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};

// The entry called `name`, or nullptr.
const NamedTensor* find_tensor(const std::vector<NamedTensor>& tensors, const std::string& name);

}  // namespace disttune
