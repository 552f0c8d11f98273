// Mutator: derives a new input from corpus entries, the way byte-level fuzzers do: bit and
// byte flips, random bytes, inserted / deleted / duplicated ranges, "interesting" integers
// (0, -1, INT_MAX, 2^31, 2^63, sizes just past the input) written little-endian at random
// offsets or as decimal text, dictionary tokens, splices of two entries, truncation. Several
// mutations are stacked per input. Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/random.h"

namespace disttune::fuzz {

class Mutator {
 public:
  Mutator(uint64_t seed, std::vector<std::string> dictionary)
      : rng_(seed), dictionary_(std::move(dictionary)) {}

  // A mutation of `base`; `corpus` supplies the second parent of a splice. The result holds
  // at most max_len bytes.
  std::string mutate(const std::string& base, const std::vector<std::string>& corpus,
                     size_t max_len);

  // Uniform in [0, n); n > 0.
  uint64_t below(uint64_t n) { return rng_.below(n); }

 private:
  void mutate_once(std::string* s, const std::vector<std::string>& corpus, size_t max_len);
  // An integer a parser is likely to mishandle, given the current input size.
  uint64_t interesting(size_t size);
  size_t pos(const std::string& s, bool end_ok);

  SplitMix64 rng_;
  std::vector<std::string> dictionary_;
};

}  // namespace disttune::fuzz
