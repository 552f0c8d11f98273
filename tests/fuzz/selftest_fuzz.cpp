// Planted bugs, so that tests/fuzz_harness_test.py can check that the harness reports each
// kind of failure (and saves the input). Each misbehaves only on an input starting with
// "bug"; `all` skips targets named selftest_*.
#include <chrono>
#include <cstring>
#include <thread>

#include "fuzz.h"

namespace disttune::fuzz {
namespace {

bool armed(std::string_view in) { return in.substr(0, 3) == "bug"; }

std::vector<std::string> no_seeds() { return {"fine"}; }

void planted_segv(std::string_view in) {
  if (!armed(in)) return;
  volatile int* p = nullptr;
  *p = 1;
}

void planted_heap_overflow(std::string_view in) {
  if (!armed(in)) return;
  std::vector<char> v(in.begin(), in.end());
  volatile size_t past = v.size() + 8;
  volatile char c = v.data()[past];  // caught by AddressSanitizer only
  (void)c;
}

void planted_internal(std::string_view in) { DT_CHECK(!armed(in), "planted invariant failure"); }

void planted_foreign_exception(std::string_view in) {
  if (armed(in)) (void)std::string().at(1);  // std::out_of_range
}

void planted_huge_alloc(std::string_view in) {
  if (!armed(in)) return;
  // A size taken from the input without a bound.
  uint64_t n = 0;
  std::memcpy(&n, in.data() + 3, std::min<size_t>(8, in.size() - 3));
  std::vector<char> v(static_cast<size_t>(n | (uint64_t{1} << 40)));
  volatile char c = v[0];
  (void)c;
}

void planted_rss(std::string_view in) {
  if (!armed(in)) return;
  std::vector<char> v(size_t{300} << 20, 1);  // under the allocation cap, over the RSS cap
  volatile char c = v[v.size() / 2];
  (void)c;
}

void planted_hang(std::string_view in) {
  if (!armed(in)) return;
  for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

void planted_clean_error(std::string_view in) {
  if (armed(in)) DT_FAIL("planted clean error: not a bug");
}

}  // namespace

DT_FUZZ_TARGET(selftest_segv, "selftest_segv", "planted null write", planted_segv, no_seeds, 64);
DT_FUZZ_TARGET(selftest_heap_overflow, "selftest_heap_overflow", "planted heap over-read",
               planted_heap_overflow, no_seeds, 64);
DT_FUZZ_TARGET(selftest_internal, "selftest_internal", "planted DT_CHECK failure", planted_internal,
               no_seeds, 64);
DT_FUZZ_TARGET(selftest_exception, "selftest_exception", "planted std::out_of_range",
               planted_foreign_exception, no_seeds, 64);
DT_FUZZ_TARGET(selftest_alloc, "selftest_alloc", "planted unbounded allocation", planted_huge_alloc,
               no_seeds, 64);
DT_FUZZ_TARGET(selftest_rss, "selftest_rss", "planted 300 MB execution", planted_rss, no_seeds, 64);
DT_FUZZ_TARGET(selftest_hang, "selftest_hang", "planted hang", planted_hang, no_seeds, 64);
DT_FUZZ_TARGET(selftest_clean, "selftest_clean", "planted clean error", planted_clean_error, no_seeds, 64);

}  // namespace disttune::fuzz
