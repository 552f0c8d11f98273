#include "common/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

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

Status Env::write_all(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno_status("write failed", path, errno);
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

Status Env::fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
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
  DT_RETURN_IF_ERROR(fsync_path(tmp_path));
  DT_RETURN_IF_ERROR(rename(tmp_path, path));
  std::string dir = std::filesystem::path(path).parent_path().string();
  return fsync_path(dir.empty() ? "." : dir);
}

Status Env::write_file_atomic(const std::string& path, const std::string& data) {
  const std::string tmp = temp_name(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("cannot create", tmp, errno);
  Status st = write_all(fd, data.data(), data.size(), tmp);
  if (st.ok() && ::fsync(fd) != 0) st = errno_status("fsync failed", tmp, errno);
  if (::close(fd) != 0 && st.ok()) st = errno_status("close failed", tmp, errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  st = publish(tmp, path);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
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

}  // namespace disttune
