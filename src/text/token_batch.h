// TokenBatch: token id rows padded into the tensors a model takes.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace disttune {

struct TokenBatch {
  at::Tensor input_ids;       // int64 [B, T], T = longest row, padded with the pad id
  at::Tensor attention_mask;  // int64 [B, T], 1 on tokens, 0 on padding
};

// Pads `seqs` on the right to the longest row (as sentence-transformers pads a batch).
TokenBatch pad_batch(const std::vector<std::vector<int32_t>>& seqs, int32_t pad_id);

}  // namespace disttune
