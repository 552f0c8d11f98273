// Gradient accumulation fused into a backward: an op whose backward would return a
// parameter's gradient as a fresh tensor, for autograd's AccumulateGrad to add to .grad in
// a second pass, adds it to .grad itself (a GEMM with beta 1, an index-add) and returns no
// gradient for that input. GradReducer allocates every .grad in its buckets before the
// backward (train/grad_reducer.h), so on the training path this saves, per use of a weight,
// a temporary as large as the weight and one pass over it: for the word embeddings a
// [vocab, hidden] zero fill, scatter and add per role, ~80 ms of a 2.9 s MiniLM step at one
// thread. Megatron-LM calls the same thing gradient-accumulation fusion.
#pragma once

#include <ATen/core/Tensor.h>

namespace disttune {

// `param`'s .grad when a backward may add to it in place: `param` is a leaf that requires a
// gradient, its .grad is allocated, contiguous, of its shape, dtype and device, and the
// backward is not building a graph of its own (create_graph). Undefined otherwise (the
// backward then returns the gradient as usual). Tensor hooks on `param` do not see what is
// added this way; disttune registers none.
at::Tensor accumulation_target(const at::Tensor& param);

}  // namespace disttune
