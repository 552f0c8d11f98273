#include "test_util.h"

#include "common/check.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>

namespace disttune::test {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = (std::filesystem::temp_directory_path() /
           ("disttune-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
              .string();
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "<no error>";
}

const nlohmann::json& golden_json(const std::string& rel) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(rel);
  if (it == cache.end())
    it = cache.emplace(rel, nlohmann::json::parse(read_text(source_dir() + "/tests/golden/" + rel))).first;
  return it->second;
}

std::vector<std::string> expect_metrics_near(const std::map<std::string, double>& got,
                                             const nlohmann::json& want, double tol) {
  std::vector<std::string> names, wanted;
  for (const auto& [name, value] : got) names.push_back(name);
  for (const auto& [name, value] : want.items()) {
    wanted.push_back(name);
    if (got.count(name)) {
      EXPECT_NEAR(got.at(name), value.get<double>(), tol) << name;
    }
  }
  std::sort(wanted.begin(), wanted.end());
  EXPECT_EQ(names, wanted);
  return names;
}

at::Tensor float_matrix(const nlohmann::json& rows) {
  const auto v = rows.get<std::vector<std::vector<float>>>();
  at::Tensor t = at::empty({static_cast<int64_t>(v.size()), v.empty() ? 0 : static_cast<int64_t>(v[0].size())});
  for (size_t i = 0; i < v.size(); ++i) {
    DT_CHECK(static_cast<int64_t>(v[i].size()) == t.size(1), "golden matrix row ", i, " has ", v[i].size(), " values");
    std::copy(v[i].begin(), v[i].end(), t[static_cast<int64_t>(i)].data_ptr<float>());
  }
  return t;
}

}  // namespace disttune::test
