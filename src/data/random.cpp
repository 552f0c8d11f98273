#include "data/random.h"

#include <numeric>
#include <utility>

namespace disttune {

uint64_t derive_seed(uint64_t seed, uint64_t tag) {
  SplitMix64 a(tag);
  SplitMix64 b(seed ^ a.next());
  return b.next();
}

void shuffle_in_place(std::vector<int64_t>& v, SplitMix64& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng.below(i));
    std::swap(v[i - 1], v[j]);
  }
}

std::vector<int64_t> random_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  SplitMix64 rng(seed);
  shuffle_in_place(v, rng);
  return v;
}

}  // namespace disttune
