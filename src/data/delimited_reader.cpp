#include "data/delimited_reader.h"

#include "common/check.h"

namespace disttune {

DelimitedReader::DelimitedReader(const std::string& path, char delimiter)
    : in_(path), delimiter_(delimiter) {}

void DelimitedReader::skip_line(int c) {
  while (c != -1 && c != '\n') c = in_.get();
  if (c == '\n') ++line_;
}

bool DelimitedReader::next(DelimitedRecord* rec) {
  rec->error.clear();
  int c;
  while (true) {  // skip empty lines
    c = in_.get();
    if (c == -1) return false;
    if (c == '\n') {
      ++line_;
    } else if (c == '\r') {
      if (in_.peek() == '\n') in_.get();
      ++line_;
    } else {
      break;
    }
  }
  rec->line = line_;
  size_t used = 0;
  auto next_field = [&]() -> std::string& {
    if (used == rec->fields.size()) rec->fields.emplace_back();
    std::string& f = rec->fields[used++];
    f.clear();
    return f;
  };
  const int delim = static_cast<unsigned char>(delimiter_);
  std::string* field = &next_field();
  while (true) {
    if (c == '"') {
      const int64_t open_line = line_;
      while (true) {
        c = in_.get();
        if (c == -1) {
          rec->fields.resize(used);
          rec->error = open_line == rec->line
                           ? std::string("unterminated quoted field")
                           : str_cat("unterminated quoted field (its quote opens on line ",
                                     open_line, ")");
          return true;
        }
        if (c == '"') {
          if (in_.peek() == '"') {
            in_.get();
            field->push_back('"');
            continue;
          }
          c = in_.get();
          break;
        }
        if (c == '\n') ++line_;
        field->push_back(static_cast<char>(c));
      }
      if (c != delim && c != '\n' && c != '\r' && c != -1) {
        rec->fields.resize(used);
        rec->error = str_cat("unexpected text after the closing quote of field ", used);
        skip_line(c);
        return true;
      }
    } else {
      while (c != delim && c != '\n' && c != '\r' && c != -1) {
        field->push_back(static_cast<char>(c));
        c = in_.get();
      }
    }
    if (c == delim) {
      field = &next_field();
      c = in_.get();
      continue;
    }
    if (c == '\r' && in_.peek() == '\n') in_.get();
    if (c != -1) ++line_;
    rec->fields.resize(used);
    return true;
  }
}

}  // namespace disttune
