// Helpers shared by the tests.
#pragma once

#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>
#include <nlohmann/json_fwd.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace disttune::test {

// ../shared/data beside the checkout, or $DISTTUNE_DATA.
inline std::string data_dir() {
  if (const char* e = std::getenv("DISTTUNE_DATA")) return e;
  return std::string(DISTTUNE_SOURCE_DIR) + "/../shared/data";
}

inline std::string source_dir() { return DISTTUNE_SOURCE_DIR; }

// A fresh directory under the temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

// A golden file under tests/golden/ (e.g. "eval/similarity.json"), parsed once.
const nlohmann::json& golden_json(const std::string& rel);
// A float32 [n, d] tensor from a golden file's list of n lists of d numbers.
at::Tensor float_matrix(const nlohmann::json& rows);
// Expects `got` to hold exactly the names of a golden {name: value} object, each value
// within tol of its golden one; returns the names, sorted.
std::vector<std::string> expect_metrics_near(const std::map<std::string, double>& got,
                                             const nlohmann::json& want, double tol);

// The message of the UserError that fn throws, or "<no error>".
std::string error_of(const std::function<void()>& fn);

}  // namespace disttune::test

// Skips the test with a clear message when a reference file under ../shared/data is absent.
#define DT_REQUIRE_DATA(rel)                                                            \
  do {                                                                                  \
    if (!std::filesystem::exists(::disttune::test::data_dir() + "/" + (rel)))           \
      GTEST_SKIP() << "reference data " << ::disttune::test::data_dir() << "/" << (rel) \
                   << " is absent; skipping";                                           \
  } while (0)
