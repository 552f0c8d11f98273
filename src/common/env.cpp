#include "common/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"

namespace disttune {
namespace {

Status errno_status(const std::string& what, const std::string& path, int err) {
  return Status::Error(str_cat(path, ": ", what, ": ", std::strerror(err)));
}

Env* g_env = nullptr;

}  // namespace

Env* Env::Default() {
  static Env default_env;
  return g_env ? g_env : &default_env;
}

Env* set_default_env(Env* env) {
  Env* prev = g_env;
  g_env = env;
  return prev;
}

std::string Env::temp_name(const std::string& path) {
  return str_cat(path, ".tmp.", ::getpid());
}

Status Env::read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_status("cannot open", path, errno ? errno : ENOENT);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return errno_status("read failed", path, errno);
  *out = ss.str();
  return Status::OK();
}

ssize_t Env::write_some(int fd, const char* data, size_t n, int64_t offset, const std::string&) {
  return offset < 0 ? ::write(fd, data, n) : ::pwrite(fd, data, n, static_cast<off_t>(offset));
}

Status Env::write_all(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = write_some(fd, data, n, -1, path);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno_status("write failed", path, errno);
    }
    // write(2) on a regular file returns 0 only when nothing can be written: no progress.
    if (w == 0) return errno_status("write failed", path, EIO);
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

Status Env::write_at(int fd, uint64_t offset, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = write_some(fd, data, n, static_cast<int64_t>(offset), path);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno_status("write failed", path, errno);
    }
    if (w == 0) return errno_status("write failed", path, EIO);
    data += w;
    offset += static_cast<uint64_t>(w);
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

Status Env::fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open for fsync", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status("fsync failed", path, err);
  return Status::OK();
}

Status Env::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return errno_status(str_cat("cannot rename to ", to), from, errno);
  return Status::OK();
}

Status Env::publish(const std::string& tmp_path, const std::string& path) {
  DT_RETURN_IF_ERROR(fsync_path(tmp_path).with_context(str_cat("publishing ", path)));
  DT_RETURN_IF_ERROR(rename(tmp_path, path).with_context(str_cat("publishing ", path)));
  // The rename is what readers see; the directory fsync makes it survive a crash.
  std::string dir = std::filesystem::path(path).parent_path().string();
  return fsync_path(dir.empty() ? "." : dir).with_context(str_cat("publishing ", path));
}

Status Env::write_file_atomic(const std::string& path, const std::string& data) {
  AtomicFile f(path, this);
  f.append(data);
  return f.commit();
}

Status Env::make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status::Error(str_cat(path, ": cannot create directory: ", ec.message()));
  return Status::OK();
}

Status Env::remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return errno_status("cannot remove", path, errno);
  return Status::OK();
}

bool Env::file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> remove_stale_temporaries_of(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (name.find_first_not_of("0123456789", prefix.size()) != std::string::npos) continue;
    std::error_code sec;
    // Regular files only (symlink_status): a symlink is neither followed nor removed.
    if (!fs::is_regular_file(e.symlink_status(sec))) continue;
    if (::unlink(e.path().c_str()) == 0) removed.push_back(e.path().string());
  }
  return removed;
}

}  // namespace disttune
