// DelimitedReader: CSV (RFC 4180) and TSV records, streamed one at a time.
//
// The rules are those of pandas.read_csv, which is what Hugging Face `datasets` uses for its
// csv loader (and so what sentence-transformers users get), with the delimiter ',' or '\t':
//  - a field that starts with '"' is quoted: it may hold delimiters, '\r' and '\n', and
//    '""' inside it stands for one '"'; a '"' anywhere else in a field is an ordinary char;
//  - records end at "\n", "\r\n" or a lone '\r' outside quotes; completely empty lines are
//    skipped; a UTF-8 byte order mark at the start of the file is ignored;
//  - the same quoting applies to TSV (pandas and csv.reader quote TSV by default too).
// One deliberate difference: text after a closing quote (`"ab"c,`) is an error here, where
// pandas silently glues it on (`abc`); that shape almost always means broken quoting.
// Fields are raw bytes; UTF-8 is checked by the caller for the columns it uses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/byte_stream.h"

namespace disttune {

struct DelimitedRecord {
  std::vector<std::string> fields;
  int64_t line = 0;   // 1-based line on which the record starts
  std::string error;  // non-empty: the record is malformed and `fields` is unusable
};

class DelimitedReader {
 public:
  DelimitedReader(const std::string& path, char delimiter);

  // The next record; false at the end of the file. A malformed record comes back with
  // `error` set and reading resumes at the next line.
  bool next(DelimitedRecord* rec);

  const std::string& path() const { return in_.path(); }

 private:
  void skip_line(int c);

  ByteStream in_;
  char delimiter_;
  int64_t line_ = 1;
};

}  // namespace disttune
