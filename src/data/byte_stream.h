// ByteStream: a file read front to back through a buffer of at most 1 MiB, so that JSONL, CSV and TSV
// files of any size are parsed with bounded memory. A UTF-8 byte order mark at the start is
// skipped (Excel writes one; Python's utf-8-sig and pandas drop it).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace disttune {

class ByteStream {
 public:
  // Throws UserError naming the path when the file cannot be opened.
  explicit ByteStream(const std::string& path, size_t buffer_bytes = size_t{1} << 20);
  ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  // The next byte (0..255), or -1 at the end of the file.
  int get() {
    if (p_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(*p_++);
  }
  int peek() {
    if (p_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(*p_);
  }

  // The bytes up to the next '\n' (excluded; a '\r' right before it is dropped too).
  // False at the end of the file when nothing is left.
  bool read_line(std::string* line);

  const std::string& path() const { return path_; }

 private:
  bool refill();

  std::string path_;
  FILE* file_ = nullptr;
  std::vector<char> buffer_;
  char* p_ = nullptr;
  char* end_ = nullptr;
};

}  // namespace disttune
