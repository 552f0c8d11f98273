// Portable pseudo-random numbers for results that must be identical on every platform,
// compiler and standard library: data splits and sampler permutations. std::shuffle and the
// std:: distributions are implementation-defined, so they are never used for these.
//
// Generator: splitmix64 (Steele, Lea, Flood 2014). Bounded integers: Lemire's
// multiply-shift with rejection (unbiased). Shuffle: Fisher-Yates from the back. A pure
// Python model of all three is tests/ref/data_random.py; the goldens in random_test.cpp
// come from it.
#pragma once

#include <cstdint>
#include <vector>

namespace disttune {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound); bound > 0.
  uint64_t below(uint64_t bound) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  uint64_t state_;
};

// An independent stream for (seed, tag): splits and each sampler epoch draw from different
// streams even when the user gives them the same seed.
uint64_t derive_seed(uint64_t seed, uint64_t tag);

// Stream tags (ASCII of the name, so that they read as what they are in a debugger).
constexpr uint64_t kSplitStream = 0x73706c6974ull;      // "split"
constexpr uint64_t kSamplerStream = 0x73616d706c6572ull;  // "sampler"
constexpr uint64_t kGroupStream = 0x67726f7570ull;          // "group": a sampler epoch's class order
constexpr uint64_t kTripletStream = 0x747269706c6574ull;    // "triplet": held-out labeled texts' negatives

// Fisher-Yates: for i = n-1 down to 1, swap v[i] with v[below(i + 1)].
void shuffle_in_place(std::vector<int64_t>& v, SplitMix64& rng);

// 0..n-1 shuffled by a generator seeded with `seed`.
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed);

}  // namespace disttune
