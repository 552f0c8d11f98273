#include "data/split.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"
#include "data/random.h"

namespace disttune {

SplitIndices make_split(int64_t n, double train, double val, double test, uint64_t seed) {
  DT_CHECK(n >= 0, "negative row count ", n);
  for (double f : {train, val, test})
    DT_REQUIRE(f >= 0 && f <= 1, "data.split: fractions must lie in [0, 1]; got train ", train,
               ", val ", val, ", test ", test);
  DT_REQUIRE(std::abs(train + val + test - 1.0) <= 1e-6,
             "data.split: train + val + test must be 1; got ", train, " + ", val, " + ", test);
  const int64_t n_test = std::min<int64_t>(n, std::llround(test * static_cast<double>(n)));
  const int64_t n_val = std::min<int64_t>(n - n_test, std::llround(val * static_cast<double>(n)));
  const std::vector<int64_t> perm = random_permutation(n, derive_seed(seed, kSplitStream));
  SplitIndices s;
  s.test.assign(perm.begin(), perm.begin() + n_test);
  s.val.assign(perm.begin() + n_test, perm.begin() + n_test + n_val);
  s.train.assign(perm.begin() + n_test + n_val, perm.end());
  std::sort(s.test.begin(), s.test.end());
  std::sort(s.val.begin(), s.val.end());
  return s;
}

}  // namespace disttune
