// Deterministic train/val/test splits of n rows (data.split). The result depends only on
// (n, fractions, seed): not on the world size, the platform or the standard library.
//
// Counts: n_test = round(test * n), n_val = round(val * n) (capped at n - n_test),
// n_train = n - n_test - n_val, so every row lands in exactly one split.
// Assignment: one permutation of 0..n-1 (splitmix64 stream derive_seed(seed, "split"),
// Fisher-Yates) is cut into test | val | train in that order, so the test rows stay the same
// when only the train/val ratio changes. val and test are sorted ascending (evaluation sets
// in file order); train keeps the permuted order (the sampler permutes it again per epoch).
#pragma once

#include <cstdint>
#include <vector>

namespace disttune {

struct SplitIndices {
  std::vector<int64_t> train, val, test;
};

// Throws UserError when a fraction is outside [0, 1] or they do not sum to 1 (+-1e-6).
SplitIndices make_split(int64_t n, double train, double val, double test, uint64_t seed);

}  // namespace disttune
