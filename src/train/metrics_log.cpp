#include "train/metrics_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/check.h"
#include "common/env.h"

namespace disttune {

MetricsLog::MetricsLog(std::string path, bool enabled) : path_(std::move(path)), enabled_(enabled) {}

MetricsLog::~MetricsLog() { close(); }

void MetricsLog::open() {
  if (fd_ >= 0) return;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) DT_FAIL(path_, ": cannot open for appending: ", std::strerror(errno));
}

void MetricsLog::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void MetricsLog::truncate_after(int64_t step) {
  if (!enabled_ || !Env::Default()->file_exists(path_)) return;
  close();
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
  struct stat st;
  const off_t before = ::fstat(fd_, &st) == 0 ? st.st_size : -1;
  const Status s = Env::Default()->write_all(fd_, line.data(), line.size(), path_);
  if (s.ok()) return;
  // Part of the line may be in the file: cut it off so the log stays whole lines.
  if (before >= 0 && ::ftruncate(fd_, before) != 0) {
    const int err = errno;
    DT_FAIL(s.message(), " (and cutting off the torn line failed: ", std::strerror(err), ")");
  }
  s.throw_if_error();
}

}  // namespace disttune
