// Embedding lookup, rows of `weight` [V, H] for `ids` [...] -> [..., H], as at::embedding with
// padding_idx (that row gets no gradient). The backward adds the rows' gradients straight into
// weight.grad when it is allocated (model/grad_accumulate.h) instead of building a dense
// [V, H] gradient per call: the word embeddings are used once for the anchors and once for
// the positives, and at MiniLM's 30522 x 384 each dense gradient is a 47 MB zero fill,
// scatter and add for a few thousand rows.
#pragma once

#include <ATen/ATen.h>

namespace disttune {

at::Tensor embedding_lookup(const at::Tensor& weight, const at::Tensor& ids, int64_t padding_idx = -1);

}  // namespace disttune
