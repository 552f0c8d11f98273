#include "text/token_batch.h"

#include <algorithm>

namespace disttune {

TokenBatch pad_batch(const std::vector<std::vector<int32_t>>& seqs, int32_t pad_id) {
  const int64_t b = static_cast<int64_t>(seqs.size());
  int64_t t = 0;
  for (const auto& s : seqs) t = std::max<int64_t>(t, static_cast<int64_t>(s.size()));
  TokenBatch out;
  out.input_ids = at::full({b, t}, static_cast<int64_t>(pad_id), at::kLong);
  out.attention_mask = at::zeros({b, t}, at::kLong);
  int64_t* ids = out.input_ids.data_ptr<int64_t>();
  int64_t* mask = out.attention_mask.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    const auto& s = seqs[static_cast<size_t>(i)];
    std::copy(s.begin(), s.end(), ids + i * t);
    std::fill(mask + i * t, mask + i * t + static_cast<int64_t>(s.size()), int64_t{1});
  }
  return out;
}

}  // namespace disttune
