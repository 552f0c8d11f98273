#include "mutator.h"

#include <algorithm>
#include <cctype>
#include <climits>

namespace disttune::fuzz {

size_t Mutator::pos(const std::string& s, bool end_ok) {
  const size_t n = s.size() + (end_ok ? 1 : 0);
  return n == 0 ? 0 : static_cast<size_t>(rng_.below(n));
}

uint64_t Mutator::interesting(size_t size) {
  static const uint64_t kFixed[] = {
      0,
      1,
      0x7F,
      0x80,
      0xFF,
      0x7FFF,
      0x8000,
      0xFFFF,
      0x7FFFFFFF,                // INT_MAX
      0x80000000,                // 2^31
      0xFFFFFFFF,                // UINT32_MAX / -1 as 32 bits
      0x100000000ull,            // 2^32
      0x7FFFFFFFFFFFFFFFull,     // INT64_MAX
      0x8000000000000000ull,     // 2^63
      0xFFFFFFFFFFFFFFFFull,     // -1
      100'000'000,               // the safetensors header cap
      100'000'001,
  };
  const uint64_t pick = rng_.below(sizeof kFixed / sizeof kFixed[0] + 4);
  if (pick < sizeof kFixed / sizeof kFixed[0]) return kFixed[pick];
  // Sizes just around the end of the buffer: the classic off-by-one and overrun triggers.
  switch (pick - sizeof kFixed / sizeof kFixed[0]) {
    case 0: return size;
    case 1: return size + 1;
    case 2: return size > 0 ? size - 1 : 0;
    default: return size + 1 + rng_.below(64);
  }
}

void Mutator::mutate_once(std::string* s, const std::vector<std::string>& corpus, size_t max_len) {
  switch (rng_.below(14)) {
    case 0: {  // flip one bit
      if (s->empty()) break;
      (*s)[pos(*s, false)] ^= static_cast<char>(1u << rng_.below(8));
      break;
    }
    case 1: {  // set one byte
      if (s->empty()) break;
      (*s)[pos(*s, false)] = static_cast<char>(rng_.below(256));
      break;
    }
    case 2: {  // insert random bytes
      const size_t n = 1 + rng_.below(8);
      std::string b(n, '\0');
      for (char& c : b) c = static_cast<char>(rng_.below(256));
      s->insert(pos(*s, true), b);
      break;
    }
    case 3: {  // delete a range
      if (s->empty()) break;
      const size_t p = pos(*s, false);
      s->erase(p, 1 + rng_.below(std::min<size_t>(s->size() - p, 64)));
      break;
    }
    case 4: {  // duplicate a range somewhere else
      if (s->empty()) break;
      const size_t p = pos(*s, false);
      const std::string r = s->substr(p, 1 + rng_.below(std::min<size_t>(s->size() - p, 64)));
      s->insert(pos(*s, true), r);
      break;
    }
    case 5:
    case 6: {  // an interesting integer, little-endian, 1/2/4/8 bytes, overwritten or inserted
      const uint64_t v = interesting(s->size());
      const size_t width = size_t{1} << rng_.below(4);
      std::string b(width, '\0');
      for (size_t i = 0; i < width; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
      if (rng_.below(2) == 0 && s->size() >= width) {
        s->replace(static_cast<size_t>(rng_.below(s->size() - width + 1)), width, b);
      } else {
        s->insert(pos(*s, true), b);
      }
      break;
    }
    case 7: {  // an interesting integer as decimal text (for JSON, YAML, CSV, qrels)
      const uint64_t v = interesting(s->size());
      std::string t;
      switch (rng_.below(4)) {
        case 0: t = std::to_string(v); break;
        case 1: t = std::to_string(static_cast<int64_t>(v)); break;
        case 2: t = "-" + std::to_string(v); break;
        default: {
          static const char* kNumbers[] = {"1e309", "-1e309", "nan", "NaN", "inf", "-0",
                                           "0.1e-400", "1.7976931348623157e308", "4e38",
                                           "18446744073709551616", "0x10", "1_000", ".5"};
          t = kNumbers[rng_.below(sizeof kNumbers / sizeof kNumbers[0])];
        }
      }
      // Replace a run of digits when there is one near the chosen spot, else insert.
      const size_t p = pos(*s, true);
      size_t b = p;
      while (b < s->size() && !std::isdigit(static_cast<unsigned char>((*s)[b])) && b < p + 16) ++b;
      if (b < s->size() && std::isdigit(static_cast<unsigned char>((*s)[b]))) {
        size_t e = b;
        while (e < s->size() && std::isdigit(static_cast<unsigned char>((*s)[e]))) ++e;
        s->replace(b, e - b, t);
      } else {
        s->insert(p, t);
      }
      break;
    }
    case 8:
    case 9: {  // a dictionary token
      if (dictionary_.empty()) break;
      s->insert(pos(*s, true), dictionary_[rng_.below(dictionary_.size())]);
      break;
    }
    case 10: {  // splice: a prefix of this input and a suffix of another entry
      if (corpus.empty()) break;
      const std::string& other = corpus[rng_.below(corpus.size())];
      const size_t a = pos(*s, true);
      const size_t b = other.empty() ? 0 : static_cast<size_t>(rng_.below(other.size() + 1));
      *s = s->substr(0, a) + other.substr(b);
      break;
    }
    case 11: {  // truncate
      s->resize(pos(*s, true));
      break;
    }
    case 12: {  // swap two bytes
      if (s->size() < 2) break;
      std::swap((*s)[pos(*s, false)], (*s)[pos(*s, false)]);
      break;
    }
    default: {  // add to a byte (arithmetic on counts and lengths)
      if (s->empty()) break;
      const size_t p = pos(*s, false);
      (*s)[p] = static_cast<char>(static_cast<unsigned char>((*s)[p]) + 1 + rng_.below(16) -
                                  (rng_.below(2) ? 17 : 0));
    }
  }
  if (s->size() > max_len) s->resize(max_len);
}

std::string Mutator::mutate(const std::string& base, const std::vector<std::string>& corpus,
                            size_t max_len) {
  std::string s = base.size() > max_len ? base.substr(0, max_len) : base;
  // Mostly one or two mutations (small steps from valid inputs reach deep checks), sometimes
  // a burst.
  const uint64_t r = rng_.below(16);
  const int n = r < 8 ? 1 : r < 12 ? 2 : r < 15 ? 4 : 16;
  for (int i = 0; i < n; ++i) mutate_once(&s, corpus, max_len);
  // Some mutations can leave the input as it was (a zero written over zeros): retry those,
  // an unchanged input only repeats a run.
  for (int retry = 0; retry < 8 && s == base; ++retry) mutate_once(&s, corpus, max_len);
  return s;
}

}  // namespace disttune::fuzz
