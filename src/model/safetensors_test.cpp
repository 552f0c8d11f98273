// safetensors reader/writer: reference-implementation byte layouts, every dtype round trip,
// and each kind of corrupt file rejected with a message naming the file and tensor.
#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/env.h"
#include "fault_env.h"
#include "test_util.h"

namespace disttune {
namespace {

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file with the given header text (unpadded) and data bytes.
std::string craft(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

uint64_t header_length(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  return n;
}

std::string error_of(const std::string& path) {
  Result<SafetensorsFile> r = read_safetensors(path);
  EXPECT_FALSE(r.ok()) << path << " was accepted";
  return r.ok() ? "" : r.status().message();
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "message: " << (haystack)

TEST(Safetensors, LayoutMatchesTheReferenceImplementation) {
  // Byte layouts the reference implementation's own tests pin down.
  EXPECT_EQ(encode_safetensors({}, {}), le64(8) + "{}      ");
  EXPECT_EQ(encode_safetensors({}, {{"framework", "pt"}}),
            le64(40) + "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
  const at::Tensor six = at::arange(6, at::kFloat);
  const std::string data(static_cast<const char*>(six.data_ptr()), 24);
  EXPECT_EQ(encode_safetensors({{"attn.0", six.view({1, 2, 3})}}, {}),
            le64(64) + "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}" + data);
  EXPECT_EQ(encode_safetensors({{"attn0", six.view({1, 1, 2, 3})}}, {}),
            le64(72) + "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       " + data);
}

TEST(Safetensors, SortsByDtypeThenName) {
  // Larger-alignment dtypes first (reference order ... F16 < BF16 < I32 < F32 < F64 < I64),
  // names ascending within a dtype.
  std::vector<NamedTensor> t = {{"b", at::zeros({2}, at::kFloat)},
                                {"a", at::zeros({2}, at::kFloat)},
                                {"h", at::zeros({2}, at::kHalf)},
                                {"z", at::zeros({1}, at::kLong)},
                                {"u", at::zeros({3}, at::kByte)}};
  const std::string bytes = encode_safetensors(t, {});
  Result<SafetensorsHeader> h = parse_safetensors_header(bytes.substr(8, header_length(bytes)), "mem");
  ASSERT_TRUE(h.ok()) << h.status().message();
  std::vector<std::string> order;
  for (const auto& e : h->entries) order.push_back(e.name);
  EXPECT_EQ(order, (std::vector<std::string>{"z", "a", "b", "h", "u"}));
}

TEST(Safetensors, EveryDtypeRoundTrips) {
  test::TempDir dir;
  const std::string path = dir.file("all.safetensors");
  std::vector<NamedTensor> in;
  const at::Tensor base = at::linspace(-3, 3, 12).view({3, 4});
  for (at::ScalarType t : {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong, at::kInt,
                           at::kShort, at::kChar, at::kByte, at::kBool})
    in.push_back({safetensors_dtype_name(t), (t == at::kByte ? base.abs() : base).to(t)});
  in.push_back({"empty", at::zeros({0, 5})});
  in.push_back({"scalar", at::full({}, 7.5)});
  in.push_back({"strided", at::arange(20, at::kFloat).view({4, 5}).t()});  // non-contiguous
  ASSERT_TRUE(write_safetensors(path, in, {{"format", "pt"}, {"note", "x"}}).ok());
  Result<SafetensorsFile> out = read_safetensors(path);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "x"}}));
  ASSERT_EQ(out->tensors.size(), in.size());
  for (const auto& t : in) {
    const NamedTensor* r = find_tensor(out->tensors, t.name);
    ASSERT_NE(r, nullptr) << t.name;
    EXPECT_EQ(r->tensor.scalar_type(), t.tensor.scalar_type()) << t.name;
    EXPECT_EQ(r->tensor.sizes(), t.tensor.sizes()) << t.name;
    EXPECT_TRUE(at::equal(r->tensor, t.tensor)) << t.name;
  }
  // The writer's output is exactly encode_safetensors, 8-byte aligned data.
  const std::string bytes = test::read_text(path);
  EXPECT_EQ(bytes, encode_safetensors(in, {{"format", "pt"}, {"note", "x"}}));
  EXPECT_EQ(header_length(bytes) % 8, 0u);
}

TEST(Safetensors, ReadsFilesWrittenInAnyOrderWithoutMetadata) {
  test::TempDir dir;
  const std::string p = dir.file("x.safetensors");
  const at::Tensor a = at::tensor({1.5f, -2.0f});
  const at::Tensor b = at::tensor({int64_t{7}});
  std::string data(static_cast<const char*>(b.data_ptr()), 8);
  data += std::string(static_cast<const char*>(a.data_ptr()), 8);
  test::write_text(p, craft("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                            "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data));
  Result<SafetensorsFile> r = read_safetensors(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->metadata.empty());
  EXPECT_TRUE(at::equal(find_tensor(r->tensors, "a")->tensor, a));
  EXPECT_TRUE(at::equal(find_tensor(r->tensors, "b")->tensor, b));
}

class SafetensorsErrors : public ::testing::Test {
 protected:
  std::string write(const std::string& bytes) {
    const std::string p = dir_.file("bad" + std::to_string(n_++) + ".safetensors");
    test::write_text(p, bytes);
    return p;
  }
  std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                    uint64_t b, uint64_t e) {
    return str_cat("\"", name, "\":{\"dtype\":\"", dtype, "\",\"shape\":", shape,
                   ",\"data_offsets\":[", b, ",", e, "]}");
  }
  test::TempDir dir_;
  int n_ = 0;
};

TEST_F(SafetensorsErrors, TruncatedFiles) {
  const std::string good = encode_safetensors({{"w", at::ones({4, 4})}, {"v", at::ones({3})}}, {});
  std::string p = write(good.substr(0, 5));
  EXPECT_HAS(error_of(p), "too short");
  EXPECT_HAS(error_of(p), p);
  p = write(good.substr(0, 30));
  EXPECT_HAS(error_of(p), "runs past the end");
  p = write(good.substr(0, good.size() - 4));  // data cut short
  const std::string msg = error_of(p);
  EXPECT_HAS(msg, "tensor 'w'");
  EXPECT_HAS(msg, "truncated");
  EXPECT_HAS(msg, p);
}

TEST_F(SafetensorsErrors, HeaderLyingAboutOffsets) {
  const std::string data(24, '\0');
  // Gap between tensors.
  std::string p = write(craft("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 12, 20) + "}", data.substr(0, 20)));
  EXPECT_HAS(error_of(p), "tensor 'b'");
  EXPECT_HAS(error_of(p), "gap");
  // Overlap.
  p = write(craft("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", data.substr(0, 12)));
  EXPECT_HAS(error_of(p), "tensor 'b'");
  EXPECT_HAS(error_of(p), "overlap");
  // Past the end of the data.
  p = write(craft("{" + entry("a", "F32", "[6]", 0, 24) + "}", data.substr(0, 16)));
  EXPECT_HAS(error_of(p), "tensor 'a'");
  EXPECT_HAS(error_of(p), "past the end");
  // End before begin.
  p = write(craft("{" + entry("a", "F32", "[0]", 8, 0) + "}", ""));
  EXPECT_HAS(error_of(p), "tensor 'a'");
  // Bytes the header does not describe.
  p = write(craft("{" + entry("a", "F32", "[2]", 0, 8) + "}", data.substr(0, 12)));
  EXPECT_HAS(error_of(p), "4 bytes after the last tensor");
  // Not starting at 0.
  p = write(craft("{" + entry("a", "F32", "[2]", 4, 12) + "}", data.substr(0, 12)));
  EXPECT_HAS(error_of(p), "tensor 'a'");
}

TEST_F(SafetensorsErrors, ShapeDtypeAndJson) {
  const std::string data(16, '\0');
  std::string p = write(craft("{" + entry("w", "F32", "[3]", 0, 16) + "}", data));
  EXPECT_HAS(error_of(p), "tensor 'w'");
  EXPECT_HAS(error_of(p), "needs 12");
  p = write(craft("{" + entry("w", "F17", "[4]", 0, 16) + "}", data));
  EXPECT_HAS(error_of(p), "unknown dtype \"F17\"");
  EXPECT_HAS(error_of(p), "tensor 'w'");
  p = write(craft("{" + entry("w", "U16", "[8]", 0, 16) + "}", data));
  EXPECT_HAS(error_of(p), "U16 is not supported");
  p = write(craft("{" + entry("w", "F32", "[-4]", 0, 16) + "}", data));
  EXPECT_HAS(error_of(p), "non-negative");
  p = write(craft("{\"w\": {\"dtype\": \"F32\", \"shape\": [4], ", data));
  EXPECT_HAS(error_of(p), "not valid JSON");
  p = write(craft("[1, 2]", ""));
  EXPECT_HAS(error_of(p), "does not start with '{'");
  p = write(craft("{" + entry("w", "F32", "[2]", 0, 8) + "," + entry("w", "F32", "[2]", 8, 16) + "}", data));
  EXPECT_HAS(error_of(p), "tensor 'w' appears twice");
  p = write(craft("{\"__metadata__\":{\"format\":3}}", ""));
  EXPECT_HAS(error_of(p), "__metadata__");
  p = write(craft("{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}", data));
  EXPECT_HAS(error_of(p), "missing \"data_offsets\"");
  // A shape whose byte count overflows 64 bits.
  p = write(craft("{" + entry("w", "F32", "[4294967296,4294967296]", 0, 16) + "}", data));
  EXPECT_HAS(error_of(p), "too large");
}

TEST_F(SafetensorsErrors, HugeHeaderLengthIsRejectedBeforeAllocating) {
  std::string p = write(le64(uint64_t{1} << 60) + "{}");
  EXPECT_HAS(error_of(p), "100 MB");
  p = write(le64(1000) + "{}");
  EXPECT_HAS(error_of(p), "runs past the end");
  EXPECT_HAS(error_of(dir_.file("missing.safetensors")), "missing.safetensors");
}

// A few MB of brackets: without a nesting limit the parser builds a million nested arrays
// (tens of bytes of memory per byte of header) and the error message's dump() of the shape
// recurses once per level, overflowing the stack.
TEST_F(SafetensorsErrors, DeeplyNestedHeaderIsRefusedWithoutRecursion) {
  const size_t depth = 1'000'000;
  const std::string shape = std::string(depth, '[') + std::string(depth, ']');
  std::string p = write(craft("{" + entry("w", "F32", shape, 0, 16) + "}", std::string(16, '\0')));
  EXPECT_HAS(error_of(p), "header nests deeper than 128 levels");
  EXPECT_HAS(error_of(p), p);
  // A long shape is quoted shortly.
  std::string wide = "[";
  for (int i = 0; i < 100000; ++i) wide += "1,";
  wide += "-1]";
  p = write(craft("{" + entry("w", "F32", wide, 0, 16) + "}", std::string(16, '\0')));
  const std::string msg = error_of(p);
  EXPECT_HAS(msg, "must hold non-negative integers");
  EXPECT_LT(msg.size(), 400u) << msg.substr(0, 400);
}

TEST(Safetensors, FailedWriteLeavesTheOldFileAndNoTemporary) {
  test::TempDir dir;
  const std::string p = dir.file("model.safetensors");
  ASSERT_TRUE(write_safetensors(p, {{"w", at::ones({2})}}).ok());
  const std::string before = test::read_text(p);
  test::FaultEnv env;
  env.enospc_after = 10;  // the disk fills up partway through the header
  Status st = write_safetensors(p, {{"w", at::zeros({2})}, {"v", at::zeros({3})}}, {}, &env);
  EXPECT_FALSE(st.ok());
  EXPECT_HAS(st.message(), "No space left");
  EXPECT_EQ(test::read_text(p), before);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

}  // namespace
}  // namespace disttune
