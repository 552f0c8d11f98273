#include "model/bf16_rows.h"

#include <c10/util/BFloat16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace disttune {
namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Every bf16 bit pattern, laid out as rows of 37 (two 16-lane groups and a tail) inside rows
// of 40: widened to the float c10 gives it, bit for bit (NaNs included), and the padding
// between rows untouched on both sides.
TEST(Bf16Rows, WidensEveryBitPatternAsC10Does) {
  const int64_t cols = 37, ld = 40, rows = ((1 << 16) + cols - 1) / cols;
  std::vector<uint16_t> src(rows * ld, 0);
  for (int64_t v = 0; v < (1 << 16); ++v) src[(v / cols) * ld + v % cols] = static_cast<uint16_t>(v);
  std::vector<float> dst(rows * 41, -7.0f);
  bf16_rows_to_float(src.data(), ld, rows, cols, dst.data(), 41);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < 41; ++c) {
      const float got = dst[r * 41 + c];
      if (c >= cols) {
        ASSERT_EQ(got, -7.0f) << "row " << r << " column " << c << " was written";
        continue;
      }
      const float want = static_cast<float>(c10::BFloat16(src[r * ld + c], c10::BFloat16::from_bits()));
      ASSERT_EQ(float_bits(got), float_bits(want)) << "bits " << src[r * ld + c];
    }
  }
}

// Floats rounded as c10::BFloat16 rounds them: nearest, ties to even, NaN to 0x7FC0,
// infinities and overflow to infinity; the columns past `cols` untouched.
TEST(Bf16Rows, RoundsAsC10Does) {
  std::mt19937 gen(3);
  std::vector<float> values;
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 20000; ++i) {
    float f;
    const uint32_t u = any(gen);
    std::memcpy(&f, &u, sizeof f);
    values.push_back(f);
  }
  // Exact ties (low half 0x8000) on odd and even bf16s, one below and above them, specials.
  for (uint32_t hi : {0x3F80u, 0x3F81u, 0xBF81u, 0x7F7Fu, 0x0001u}) {
    for (uint32_t lo : {0x8000u, 0x7FFFu, 0x8001u, 0xFFFFu}) {
      float f;
      const uint32_t u = hi << 16 | lo;
      std::memcpy(&f, &u, sizeof f);
      values.push_back(f);
    }
  }
  for (float f : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::signaling_NaN(),
                  std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(), -0.0f, 0.0f})
    values.push_back(f);
  const int64_t cols = 37, ld = 39, rows = (static_cast<int64_t>(values.size()) + cols - 1) / cols;
  std::vector<float> src(rows * ld, 0.0f);
  for (size_t v = 0; v < values.size(); ++v) src[(v / cols) * ld + v % cols] = values[v];
  std::vector<uint16_t> dst(rows * 38, 0xABCD);
  float_rows_to_bf16(src.data(), ld, rows, cols, dst.data(), 38);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < 38; ++c) {
      if (c >= cols) {
        ASSERT_EQ(dst[r * 38 + c], 0xABCD) << "row " << r << " column " << c << " was written";
        continue;
      }
      const float f = src[r * ld + c];
      ASSERT_EQ(dst[r * 38 + c], c10::BFloat16(f).x) << "float bits " << std::hex << float_bits(f);
    }
  }
}

}  // namespace
}  // namespace disttune
