#include "common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace disttune {
namespace {

// Appends are gathered into writes of this size; larger pieces are written directly.
constexpr size_t kAtomicFileBuffer = size_t{1} << 20;

}  // namespace

AtomicFile::AtomicFile(std::string path, Env* env)
    : env_(env ? env : Env::Default()), path_(std::move(path)), tmp_(Env::temp_name(path_)) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) status_ = Status::Error(str_cat(path_, ": cannot create ", tmp_, ": ", std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
  if (!finished_) discard();
}

void AtomicFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  env_->remove_file(tmp_);
}

void AtomicFile::write_through(const char* data, size_t n) {
  if (!status_.ok() || n == 0) return;
  // Errors name the file the user asked for; the temporary is an implementation detail.
  status_ = env_->write_all(fd_, data, n, path_);
}

void AtomicFile::append(std::string_view data) {
  if (!status_.ok()) return;
  if (buf_.size() + data.size() <= kAtomicFileBuffer) {
    buf_.append(data);
    return;
  }
  write_through(buf_.data(), buf_.size());
  buf_.clear();
  if (data.size() >= kAtomicFileBuffer)
    write_through(data.data(), data.size());
  else
    buf_.assign(data);
}

Status AtomicFile::commit() {
  if (finished_) return Status::Error(str_cat(path_, ": committed twice"));
  finished_ = true;
  write_through(buf_.data(), buf_.size());
  std::string().swap(buf_);
  if (status_.ok()) {
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) status_ = Status::Error(str_cat(path_, ": close failed: ", std::strerror(errno)));
  }
  if (status_.ok()) status_ = env_->publish(tmp_, path_);
  if (!status_.ok()) discard();
  return status_;
}

}  // namespace disttune
