#include "fault_env.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>

namespace disttune::test {

bool FaultEnv::matches(const std::string& path) const {
  return match.empty() || path.find(match) != std::string::npos;
}

ssize_t FaultEnv::write_some(int fd, const char* data, size_t n, int64_t offset,
                             const std::string& path) {
  if (!matches(path)) return Env::write_some(fd, data, n, offset, path);
  if (++writes == eio_at_write) {
    ++injected;
    errno = EIO;
    return -1;
  }
  if (max_write > 0 && n > max_write) {
    n = max_write;
    ++injected;
  }
  if (enospc_after >= 0) {
    const int64_t room = enospc_after - bytes;
    if (room <= 0) {
      ++injected;
      errno = ENOSPC;
      return -1;
    }
    if (static_cast<int64_t>(n) > room) {
      n = static_cast<size_t>(room);
      ++injected;
    }
  }
  const ssize_t w = Env::write_some(fd, data, n, offset, path);
  if (w > 0) bytes += w;
  return w;
}

Status FaultEnv::fsync_path(const std::string& path) {
  struct stat st;
  const bool dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if ((dir && fail_dir_fsync) || (!dir && fail_file_fsync && matches(path))) {
    ++injected;
    return Status::Error(path + ": fsync failed: " + std::strerror(EIO));
  }
  return Env::fsync_path(path);
}

Status FaultEnv::rename(const std::string& from, const std::string& to) {
  if (fail_rename && (matches(from) || matches(to))) {
    ++injected;
    return Status::Error(from + ": cannot rename to " + to + ": " + std::strerror(rename_errno));
  }
  return Env::rename(from, to);
}

int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace disttune::test
