// XXH64 (Yann Collet's xxHash, 64-bit variant): a fast non-cryptographic hash of bytes,
// used to recognise that a file has not changed (the tokenized store keys on the hash of
// its source file). It detects accidental change, not tampering. About 10 GB/s on one
// core, so hashing a training file costs far less than reading it. The output equals the
// reference library's XXH64(data, len, seed); tests/ref/xxh64_ref.py makes the goldens
// through the system libxxhash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace disttune {

// Streaming XXH64: update() any number of times, digest() at any point.
class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0);
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  uint64_t digest() const;

 private:
  uint64_t acc_[4];
  uint64_t seed_;
  uint64_t total_ = 0;
  unsigned char buf_[32];
  size_t buffered_ = 0;
};

uint64_t xxh64(const void* data, size_t n, uint64_t seed = 0);
inline uint64_t xxh64(std::string_view s, uint64_t seed = 0) { return xxh64(s.data(), s.size(), seed); }

// 16 lowercase hex digits.
std::string hex64(uint64_t v);

// Size and XXH64 (seed 0) of a file's bytes, read through a 1 MiB buffer.
struct FileDigest {
  int64_t size = 0;
  uint64_t xxh64 = 0;
};
Result<FileDigest> digest_file(const std::string& path);

}  // namespace disttune
