#include "text/string_id_map.h"

#include "common/check.h"

namespace disttune::text {

int32_t StringIdMap::find(std::string_view key, uint64_t h) const {
  if (slots_.empty()) return -1;
  const size_t mask = slots_.size() - 1;
  const uint64_t tag = h >> 32;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t s = slots_[i];
    if (s == 0) return -1;
    if ((s >> 32) == tag) {
      const Entry& e = entries_[(s & 0xFFFFFFFFu) - 1];
      if (key_of(e) == key) return e.id;
    }
  }
}

void StringIdMap::insert(std::string_view key, int32_t id) {
  const uint64_t h = hash(key);
  if ((entries_.size() + 1) * 2 > slots_.size()) grow();
  const size_t mask = slots_.size() - 1;
  const uint64_t tag = h >> 32;
  size_t i = h & mask;
  for (;; i = (i + 1) & mask) {
    const uint64_t s = slots_[i];
    if (s == 0) break;
    if ((s >> 32) == tag) {
      Entry& e = entries_[(s & 0xFFFFFFFFu) - 1];
      if (key_of(e) == key) {
        e.id = id;
        return;
      }
    }
  }
  DT_CHECK(keys_.size() + key.size() < (uint64_t{1} << 32), "vocabulary too large");
  entries_.push_back({static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(key.size()), id});
  keys_.append(key);
  slots_[i] = (tag << 32) | entries_.size();
  if (key.size() > max_key_bytes_) max_key_bytes_ = key.size();
}

void StringIdMap::grow() {
  const size_t n = slots_.empty() ? 64 : slots_.size() * 2;
  slots_.assign(n, 0);
  const size_t mask = n - 1;
  for (size_t k = 0; k < entries_.size(); ++k) {
    const uint64_t h = hash(key_of(entries_[k]));
    size_t i = h & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = ((h >> 32) << 32) | (k + 1);
  }
}

}  // namespace disttune::text
