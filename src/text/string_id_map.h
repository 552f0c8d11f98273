// StringIdMap: token string -> id, built once, probed millions of times. Keys live in one
// owned buffer and are looked up by string_view, so a probe never builds a std::string.
// The hash is byte-serial (FNV-1a), so the hashes of every prefix of a word come out of one
// pass: WordPiece's longest-match search probes all prefixes of the same suffix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace disttune::text {

class StringIdMap {
 public:
  static constexpr uint64_t kHashSeed = 0xcbf29ce484222325ull;
  static uint64_t hash_step(uint64_t h, unsigned char b) { return (h ^ b) * 0x100000001b3ull; }
  static uint64_t hash(std::string_view s) {
    uint64_t h = kHashSeed;
    for (char c : s) h = hash_step(h, static_cast<unsigned char>(c));
    return h;
  }

  // Inserts or overwrites (a later duplicate wins, as a Python dict built from vocab.txt).
  void insert(std::string_view key, int32_t id);

  // The id of `key`, or -1. `h` must be hash(key).
  int32_t find(std::string_view key, uint64_t h) const;
  int32_t find(std::string_view key) const { return find(key, hash(key)); }

  size_t size() const { return entries_.size(); }
  // Length in bytes of the longest key: no longer string can be found.
  size_t max_key_bytes() const { return max_key_bytes_; }

 private:
  struct Entry {
    uint32_t offset, length;
    int32_t id;
  };
  void grow();
  std::string_view key_of(const Entry& e) const { return {keys_.data() + e.offset, e.length}; }

  std::string keys_;
  std::vector<Entry> entries_;
  // Open addressing, linear probing: (high 32 bits of the hash) << 32 | (entry index + 1);
  // 0 is an empty slot.
  std::vector<uint64_t> slots_;
  size_t max_key_bytes_ = 0;
};

}  // namespace disttune::text
