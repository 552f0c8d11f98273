#include "common/hash64.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_util.h"

namespace disttune {
namespace {

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + 7) % 256);
  return s;
}

struct Golden {
  size_t n;
  uint64_t seed;
  std::string hex;
};

std::vector<Golden> goldens() {
  std::ifstream in(test::source_dir() + "/tests/golden/common/xxh64.txt");
  std::vector<Golden> g;
  Golden x;
  while (in >> x.n >> x.seed >> x.hex) g.push_back(x);
  return g;
}

TEST(Hash64, MatchesTheReferenceLibrary) {
  const auto g = goldens();
  ASSERT_EQ(g.size(), 234u);
  for (const auto& e : g) EXPECT_EQ(hex64(xxh64(pattern(e.n), e.seed)), e.hex) << e.n << " " << e.seed;
}

TEST(Hash64, StreamingInAnyPiecesEqualsOneShot) {
  for (const auto& e : goldens()) {
    if (e.n > 5000) continue;
    const std::string s = pattern(e.n);
    for (size_t piece : {1, 3, 8, 31, 32, 33, 100}) {
      Xxh64 h(e.seed);
      for (size_t i = 0; i < s.size(); i += piece) h.update(std::string_view(s).substr(i, piece));
      EXPECT_EQ(hex64(h.digest()), e.hex) << e.n << " piece " << piece;
    }
  }
}

TEST(Hash64, DigestsFilesAndReportsMissingOnes) {
  test::TempDir dir;
  const std::string s = pattern(3'000'001);  // crosses the 1 MiB read buffer
  test::write_text(dir.file("f"), s);
  auto d = digest_file(dir.file("f"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size, 3'000'001);
  EXPECT_EQ(d->xxh64, xxh64(s));
  const auto missing = digest_file(dir.file("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace disttune
