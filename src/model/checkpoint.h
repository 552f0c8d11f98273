// Gradient checkpointing (Hugging Face's gradient_checkpointing, torch.utils.checkpoint):
// a function runs without keeping its activations; backward runs it again, from the same
// input, with the same random draws (dropout) and autocast setting, and differentiates that
// run. The encoder checkpoints each layer, keeping only the layer inputs: activation memory
// falls from every layer's intermediates to one layer's, for about one more forward.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace disttune {

// f(x, captured): f reads the captured tensors from its argument. Backward hands it, for each
// one that is not a leaf, a detached stand-in, so that a captured tensor computed from another
// (a fused attention bias from the position bias) passes its gradient on once, through the
// graph that made it.
using CheckpointFn = std::function<at::Tensor(const at::Tensor& x, const std::vector<at::Tensor>& captured)>;

// f(x, captured), differentiable w.r.t. x and `captured`: every tensor f reads besides x that
// may carry gradient (parameters, attention biases computed from parameters). f must read no
// other tensor that requires grad, and must be callable again during backward.
at::Tensor checkpointed(const CheckpointFn& f, const at::Tensor& x, const std::vector<at::Tensor>& captured);

}  // namespace disttune
