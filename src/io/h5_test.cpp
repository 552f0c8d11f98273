#include "io/h5.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/check.h"
#include "test_util.h"

namespace disttune {
namespace {

using test::error_of;

TEST(H5, RoundTripsTensorsOfEveryDtypeAndShape) {
  test::TempDir dir;
  const std::string path = dir.file("t.h5");
  at::Tensor f = at::randn({3, 4, 5});
  at::Tensor d = at::randn({7}, at::kDouble);
  at::Tensor l = at::arange(10, at::kLong).reshape({2, 5});
  at::Tensor i = at::tensor({1, -2, 3}, at::kInt);
  at::Tensor b = at::tensor({0, 255, 7}, at::kByte);
  at::Tensor s = at::scalar_tensor(2.5);
  at::Tensor empty = at::zeros({0, 3});
  {
    H5File h = H5File::create(path);
    h.write("/model/encoder.layer.0.weight", f);
    h.write("/d", d);
    h.write("/deep/er/l", l);
    h.write("/i", i);
    h.write("/b", b);
    h.write("/scalar", s.to(at::kFloat));
    h.write("/empty", empty);
    h.write("/strided", f.transpose(0, 2));  // non-contiguous input
    h.close();
  }
  H5File h = H5File::open_read(path);
  EXPECT_TRUE(at::equal(h.read("/model/encoder.layer.0.weight"), f));
  EXPECT_TRUE(at::equal(h.read("/d"), d));
  EXPECT_TRUE(at::equal(h.read("/deep/er/l"), l));
  EXPECT_TRUE(at::equal(h.read("/i"), i));
  EXPECT_TRUE(at::equal(h.read("/b"), b));
  EXPECT_FLOAT_EQ(h.read("/scalar").item<float>(), 2.5f);
  EXPECT_EQ(h.read("/empty").sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(at::equal(h.read("/strided"), f.transpose(0, 2)));
  EXPECT_EQ(h.list("/"), (std::vector<std::string>{"b", "d", "deep", "empty", "i", "model",
                                                   "scalar", "strided"}));
  EXPECT_TRUE(h.exists("/deep/er/l"));
  EXPECT_FALSE(h.exists("/deep/nope/l"));
  EXPECT_EQ(error_of([&] { h.read("/missing"); }), path + ": missing dataset '/missing'");
}

TEST(H5, StringDatasets) {
  test::TempDir dir;
  const std::string path = dir.file("s.h5");
  const std::vector<std::string> ids = {"doc-1", "", "ünïcode ✓", std::string(300, 'x')};
  {
    H5File h = H5File::create(path);
    h.write_strings("/ids", ids);
    h.write_strings("/none", {});
    h.write("/num", at::ones({2}));
  }
  H5File h = H5File::open_read(path);
  EXPECT_EQ(h.read_strings("/ids"), ids);
  EXPECT_TRUE(h.read_strings("/none").empty());
  EXPECT_EQ(error_of([&] { h.read_strings("/num"); }),
            path + ": dataset '/num' is not a string dataset");
}

TEST(H5, RowsAppendAndAttributes) {
  test::TempDir dir;
  const std::string path = dir.file("rows.h5");
  {
    H5File h = H5File::create(path);
    h.write("/ids", at::arange(6, at::kInt), {.checksum = true, .chunk_rows = 4, .extendable = true});
    h.append("/ids", at::arange(6, 11, at::kInt));
    h.append("/ids", at::zeros({0}, at::kInt));
    h.set_attr("/", "config", std::string("model:\n  path: x\n"));
    h.set_attr("/", "step", int64_t{1234});
    h.set_attr("/ids", "scale", 0.25);
    h.set_attr("/", "step", int64_t{1235});  // overwrite
    EXPECT_NE(error_of([&] { h.append("/ids", at::zeros({2}, at::kLong)); }), "<no error>");
  }
  H5File h = H5File::open_read(path);
  EXPECT_TRUE(at::equal(h.read("/ids"), at::arange(11, at::kInt)));
  EXPECT_TRUE(at::equal(h.read_rows("/ids", 3, 5), at::arange(3, 8, at::kInt)));
  EXPECT_EQ(h.read_rows("/ids", 11, 0).numel(), 0);
  EXPECT_EQ(error_of([&] { h.read_rows("/ids", 9, 5); }),
            path + ": dataset '/ids': rows [9, 14) out of range (it has 11)");
  EXPECT_EQ(h.attr_string("/", "config"), "model:\n  path: x\n");
  EXPECT_EQ(h.attr_int("/", "step"), 1235);
  EXPECT_DOUBLE_EQ(h.attr_double("/ids", "scale"), 0.25);
  EXPECT_FALSE(h.has_attr("/", "nope"));
  EXPECT_EQ(error_of([&] { h.attr_int("/", "config"); }),
            path + ": attribute 'config' on '/' is not an integer");
}

TEST(H5, ReadRangesConcatenatesSeveralRowRangesInOneRead) {
  test::TempDir dir;
  const std::string path = dir.file("ranges.h5");
  {
    H5File h = H5File::create(path);
    h.write("/ids", at::arange(100, at::kInt), {.checksum = true, .chunk_rows = 8, .extendable = true});
    h.write("/m", at::arange(30, at::kLong).reshape({10, 3}));
  }
  H5File h = H5File::open_read(path);
  EXPECT_TRUE(at::equal(h.read_ranges("/ids", {{2, 3}, {5, 0}, {7, 1}, {40, 4}, {99, 1}}),
                        at::tensor({2, 3, 4, 7, 40, 41, 42, 43, 99}, at::kInt)));
  EXPECT_TRUE(at::equal(h.read_ranges("/ids", {{5, 2}, {7, 2}}), at::arange(5, 9, at::kInt)));
  EXPECT_EQ(h.read_ranges("/ids", {}).numel(), 0);
  EXPECT_TRUE(at::equal(h.read_ranges("/m", {{1, 1}, {8, 2}}),
                        at::tensor({3, 4, 5, 24, 25, 26, 27, 28, 29}, at::kLong).reshape({3, 3})));
  EXPECT_EQ(error_of([&] { h.read_ranges("/ids", {{98, 5}}); }),
            path + ": dataset '/ids': rows [98, 103) out of range (it has 100)");
  EXPECT_THROW(h.read_ranges("/ids", {{10, 5}, {12, 1}}), InternalError);
}

// Locates the raw bytes of a float tensor in the file by its value pattern.
int64_t find_bytes(const std::string& file, const at::Tensor& t) {
  std::string data = test::read_text(file);
  std::string needle(static_cast<const char*>(t.data_ptr()), 64);
  auto pos = data.find(needle);
  return pos == std::string::npos ? -1 : static_cast<int64_t>(pos);
}

TEST(H5, ChecksumRefusesAFlippedByteAndDamagedFilesAreRefused) {
  test::TempDir dir;
  const std::string path = dir.file("ck.h5");
  at::Tensor w = at::randn({64, 32});
  {
    H5File h = H5File::create(path);
    h.write("/w", w, {.checksum = true});
    h.write("/plain", w);
  }
  // Flip one byte inside the checksummed data.
  const int64_t pos = find_bytes(path, w);
  ASSERT_GE(pos, 0);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(pos + 100);
    char c;
    f.seekg(pos + 100);
    f.get(c);
    f.seekp(pos + 100);
    f.put(static_cast<char>(c ^ 0x01));
  }
  H5File h = H5File::open_read(path);
  EXPECT_EQ(error_of([&] { h.read("/w"); }),
            path + ": cannot read dataset '/w' (damaged: checksum or I/O error)");

  // Truncated file.
  const std::string cut = dir.file("cut.h5");
  std::string bytes = test::read_text(path);
  test::write_text(cut, bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(error_of([&] { H5File::open_read(cut).read("/plain"); }).rfind(cut + ": ", 0), 0u);

  // Not HDF5 at all, and missing.
  const std::string txt = dir.file("x.h5");
  test::write_text(txt, "hello");
  EXPECT_EQ(error_of([&] { H5File::open_read(txt); }), txt + ": not an HDF5 file");
  EXPECT_EQ(error_of([&] { H5File::open_read(dir.file("none.h5")); }),
            dir.file("none.h5") + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace disttune
