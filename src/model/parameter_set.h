// ParameterSet: the named state of an encoder in Hugging Face order — trainable parameters
// (float32 leaves that require grad) and buffers kept only so that a loaded file is written
// back complete (embeddings.position_ids). Handles returned by add() share their
// TensorImpl with the stored entries, so in-place loads and device moves (set_data) are seen
// by every holder.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "model/named_tensor.h"

namespace disttune {

class ParameterSet {
 public:
  // Registers a float32 parameter of `shape` (uninitialised) and returns its handle.
  at::Tensor add(const std::string& name, at::IntArrayRef shape);
  void add_buffer(const std::string& name, const at::Tensor& value);

  std::vector<NamedTensor>& parameters() { return params_; }
  const std::vector<NamedTensor>& parameters() const { return params_; }
  const std::vector<NamedTensor>& buffers() const { return buffers_; }

  // Copies every parameter from `tensors` by name (converting dtype and device). Missing
  // parameters, names that are neither a parameter nor in `ignorable`, and shape mismatches
  // throw UserError naming the tensor and `source`.
  void load(const std::vector<NamedTensor>& tensors, const std::string& source,
            const std::set<std::string>& ignorable = {});

  // Moves parameters and buffers to `device` in place (handles stay valid).
  void to(const at::Device& device);

 private:
  std::vector<NamedTensor> params_;
  std::vector<NamedTensor> buffers_;
};

std::string shape_str(at::IntArrayRef shape);

}  // namespace disttune
