#include "train/metrics_log.h"

#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/check.h"
#include "common/env.h"

namespace disttune {

MetricsLog::MetricsLog(std::string path, bool enabled) : path_(std::move(path)), enabled_(enabled) {}

MetricsLog::~MetricsLog() {
  if (f_) std::fclose(f_);
}

void MetricsLog::open() {
  if (f_) return;
  f_ = std::fopen(path_.c_str(), "a");
  if (!f_) DT_FAIL(path_, ": cannot open for appending: ", std::strerror(errno));
}

void MetricsLog::truncate_after(int64_t step) {
  if (!enabled_ || !Env::Default()->file_exists(path_)) return;
  if (f_) {
    std::fclose(f_);
    f_ = nullptr;
  }
  std::string text;
  Env::Default()->read_file(path_, &text).throw_if_error();
  std::istringstream in(text);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    // A torn last line (crash while writing) is dropped too.
    if (row.is_discarded() || !row.contains("step")) continue;
    if (row["step"].get<int64_t>() <= step) kept += line + "\n";
  }
  Env::Default()->write_file_atomic(path_, kept).throw_if_error();
}

void MetricsLog::write(const nlohmann::json& row) {
  if (!enabled_) return;
  open();
  const std::string line = row.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
    DT_FAIL(path_, ": write failed: ", std::strerror(errno));
}

}  // namespace disttune
