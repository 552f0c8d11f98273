#include "data/byte_stream.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/check.h"

namespace disttune {

ByteStream::ByteStream(const std::string& path, size_t buffer_bytes) : path_(path) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) DT_FAIL(path, ": cannot open: ", std::strerror(errno));
  // No bigger than the file: a reader of many small files (qrels, BEIR sets) should not
  // allocate and clear a megabyte for each.
  struct stat st;
  if (::fstat(::fileno(file_), &st) == 0 && S_ISREG(st.st_mode))
    buffer_bytes = std::min(buffer_bytes, std::max<size_t>(static_cast<size_t>(st.st_size), 4096));
  buffer_.resize(buffer_bytes);
  p_ = end_ = buffer_.data();
  if (refill() && end_ - p_ >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) p_ += 3;
}

ByteStream::~ByteStream() {
  if (file_) std::fclose(file_);
}

bool ByteStream::refill() {
  const size_t n = std::fread(buffer_.data(), 1, buffer_.size(), file_);
  if (n == 0 && std::ferror(file_)) DT_FAIL(path_, ": read error: ", std::strerror(errno));
  p_ = buffer_.data();
  end_ = p_ + n;
  return n > 0;
}

bool ByteStream::read_line(std::string* line) {
  line->clear();
  bool any = false;
  while (true) {
    if (p_ == end_ && !refill()) break;
    any = true;
    char* nl = static_cast<char*>(std::memchr(p_, '\n', static_cast<size_t>(end_ - p_)));
    if (nl) {
      line->append(p_, static_cast<size_t>(nl - p_));
      p_ = nl + 1;
      if (!line->empty() && line->back() == '\r') line->pop_back();
      return true;
    }
    line->append(p_, end_);
    p_ = end_;
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return any;
}

}  // namespace disttune
