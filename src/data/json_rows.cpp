#include "data/json_rows.h"

#include <nlohmann/json.hpp>

#include <iterator>

#include "common/check.h"

namespace disttune {

const char* json_kind_name(JsonKind k) {
  switch (k) {
    case JsonKind::Missing: return "nothing";
    case JsonKind::Null: return "null";
    case JsonKind::Bool: return "boolean";
    case JsonKind::Integer:
    case JsonKind::Float: return "number";
    case JsonKind::String: return "string";
    case JsonKind::Array: return "array";
    case JsonKind::Object: return "object";
  }
  return "?";
}

namespace {

using json = nlohmann::json;

// nlohmann's message without its "[json.exception...] parse error at line 1, column 5: "
// prefix (positions are reported our way) and with bytes that are not printable ASCII
// replaced, since the "last read" part echoes raw input, invalid UTF-8 included.
std::string clean_parse_message(const std::string& what) {
  std::string msg = what;
  const size_t p = msg.find("parse error");
  if (p != std::string::npos) {
    const size_t colon = msg.find(": ", p);
    if (colon != std::string::npos) msg = msg.substr(colon + 2);
  }
  if (msg.size() > 200) msg = msg.substr(0, 200) + "...";
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
  return msg;
}

// What the lexer has consumed so far, so that list elements know their line.
struct Consumed {
  int64_t newlines = 0;
  char last = 0;
};

struct CountingIterator {
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  const char* p = nullptr;
  Consumed* consumed = nullptr;
  reference operator*() const { return *p; }
  CountingIterator& operator++() {
    if (*p == '\n') ++consumed->newlines;
    consumed->last = *p;
    ++p;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const CountingIterator& o) const { return p == o.p; }
  bool operator!=(const CountingIterator& o) const { return p != o.p; }
};

// SAX handler. Rows live at container depth `row_depth` (0 for a JSONL line, 1 for the
// elements of a list); their fields one level deeper; anything deeper is only skipped.
class RowSax {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  RowSax(const std::vector<std::string>& wanted, int row_depth, JsonRow* row,
         const std::function<void(JsonRow&)>* on_row, const Consumed* consumed,
         int64_t fixed_line)
      : wanted_(wanted), row_depth_(row_depth), row_(row), on_row_(on_row),
        consumed_(consumed), fixed_line_(fixed_line) {}

  bool null() { return scalar(JsonKind::Null); }
  bool boolean(bool) { return scalar(JsonKind::Bool); }
  bool number_integer(number_integer_t v) {
    if (JsonCell* a = array_cell()) a->numbers.push_back(static_cast<double>(v));
    if (JsonCell* c = field_cell(JsonKind::Integer)) {
      c->text = std::to_string(v);
      c->number = static_cast<double>(v);
    }
    return scalar(JsonKind::Integer);
  }
  bool number_unsigned(number_unsigned_t v) {
    if (JsonCell* a = array_cell()) a->numbers.push_back(static_cast<double>(v));
    if (JsonCell* c = field_cell(JsonKind::Integer)) {
      c->text = std::to_string(v);
      c->number = static_cast<double>(v);
    }
    return scalar(JsonKind::Integer);
  }
  bool number_float(number_float_t v, const string_t&) {
    if (JsonCell* a = array_cell()) a->numbers.push_back(v);
    if (JsonCell* c = field_cell(JsonKind::Float)) c->number = v;
    return scalar(JsonKind::Float);
  }
  bool string(string_t& v) {
    if (JsonCell* c = field_cell(JsonKind::String)) c->text = std::move(v);
    return scalar(JsonKind::String);
  }
  bool binary(binary_t&) { return scalar(JsonKind::Null); }  // not produced by JSON text

  bool start_object(std::size_t) { return open(JsonKind::Object); }
  bool start_array(std::size_t) { return open(JsonKind::Array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(string_t& k) {
    if (in_row_ && depth_ == row_depth_ + 1) {
      slot_ = -1;
      for (size_t i = 0; i < wanted_.size(); ++i)
        if (wanted_[i] == k) slot_ = static_cast<int>(i);
      row_->keys.push_back(k);
      expect_value_ = true;
    }
    return true;
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) {
    error_position_ = position;
    const std::string what = ex.what();
    if (what.find("ill-formed UTF-8") != std::string::npos) {
      invalid_utf8_ = true;
      // Inside a field's value (or nested in it): blame that field; else it was in a key.
      if (in_row_ && (expect_value_ || depth_ > row_depth_ + 1)) utf8_key_ = row_->keys.back();
    }
    error_message_ = clean_parse_message(what);
    return false;
  }

  // After a failed parse: what went wrong.
  bool invalid_utf8_ = false;
  std::string utf8_key_;
  std::string error_message_;
  size_t error_position_ = 0;
  bool not_a_list_ = false;
  JsonKind top_kind_ = JsonKind::Missing;

 private:
  // A number is only known to end when the lexer has read the character after it; if that
  // was a newline it belongs to the next line, not to the number's.
  int64_t current_line(JsonKind kind = JsonKind::Object) const {
    if (!consumed_) return fixed_line_;
    const bool lookahead = (kind == JsonKind::Integer || kind == JsonKind::Float) && consumed_->last == '\n';
    return 1 + consumed_->newlines - (lookahead ? 1 : 0);
  }

  JsonCell* field_cell(JsonKind kind) {
    if (!in_row_ || depth_ != row_depth_ + 1 || slot_ < 0) return nullptr;
    JsonCell& c = row_->cells[static_cast<size_t>(slot_)];
    c.kind = kind;
    c.text.clear();
    c.number = 0;
    return &c;
  }

  // The wanted field whose array holds the value being read, if any.
  JsonCell* array_cell() {
    if (!in_row_ || depth_ != row_depth_ + 2 || array_slot_ < 0) return nullptr;
    return &row_->cells[static_cast<size_t>(array_slot_)];
  }

  void begin_row(JsonKind kind) {
    row_->cells.assign(wanted_.size(), JsonCell{});
    row_->keys.clear();
    row_->line = current_line(kind);
    row_->problem = JsonRow::Problem::None;
    row_->problem_key.clear();
    row_->message.clear();
    slot_ = -1;
    array_slot_ = -1;
    expect_value_ = false;
  }

  void emit() {
    if (on_row_) (*on_row_)(*row_);
  }

  // A value that is not a container, at the current depth.
  bool scalar(JsonKind kind) {
    if (depth_ < row_depth_) {  // the document itself is a scalar where a list was expected
      not_a_list_ = true;
      top_kind_ = kind;
      return false;
    }
    if (depth_ == row_depth_) {  // a row that is not an object
      begin_row(kind);
      row_->problem = JsonRow::Problem::NotObject;
      row_->message = str_cat("expected a JSON object, got ", json_kind_name(kind));
      emit();
      return true;
    }
    if (in_row_ && depth_ == row_depth_ + 1) {
      if (slot_ >= 0) row_->cells[static_cast<size_t>(slot_)].kind = kind;
      expect_value_ = false;
    }
    if (JsonCell* a = array_cell(); a && kind != JsonKind::Integer && kind != JsonKind::Float)
      a->all_numbers = false;
    return true;
  }

  bool open(JsonKind kind) {
    if (depth_ < row_depth_ && kind != JsonKind::Array) {
      not_a_list_ = true;
      top_kind_ = kind;
      return false;
    }
    if (depth_ == row_depth_) {
      if (kind == JsonKind::Object) {
        begin_row(kind);
        in_row_ = true;
      } else {
        begin_row(kind);
        row_->problem = JsonRow::Problem::NotObject;
        row_->message = "expected a JSON object, got array";
        emit();
      }
    } else if (in_row_ && depth_ == row_depth_ + 1) {
      array_slot_ = -1;
      if (slot_ >= 0) {
        JsonCell& c = row_->cells[static_cast<size_t>(slot_)];
        c.kind = kind;
        c.text.clear();
        c.numbers.clear();
        c.all_numbers = true;
        if (kind == JsonKind::Array) array_slot_ = slot_;
      }
      expect_value_ = false;
    } else if (JsonCell* a = array_cell()) {
      a->all_numbers = false;  // a container inside the list
    }
    ++depth_;
    return true;
  }

  bool close() {
    --depth_;
    if (depth_ == row_depth_ + 1) array_slot_ = -1;
    if (in_row_ && depth_ == row_depth_) {
      in_row_ = false;
      emit();
    }
    return true;
  }

  const std::vector<std::string>& wanted_;
  const int row_depth_;
  JsonRow* row_;
  const std::function<void(JsonRow&)>* on_row_;
  const Consumed* consumed_;
  const int64_t fixed_line_;
  int depth_ = 0;
  bool in_row_ = false;
  bool expect_value_ = false;
  int slot_ = -1;
  int array_slot_ = -1;  // the wanted field whose array is open (depth row_depth_ + 2)
};

}  // namespace

JsonRowReader::JsonRowReader(std::vector<std::string> wanted) : wanted_(std::move(wanted)) {}

void JsonRowReader::parse_line(const std::string& text, int64_t line, JsonRow* row) const {
  row->problem = JsonRow::Problem::None;
  RowSax sax(wanted_, 0, row, nullptr, nullptr, line);
  const bool ok = json::sax_parse(text, &sax);
  row->line = line;
  if (ok) return;
  row->cells.assign(wanted_.size(), JsonCell{});
  if (sax.invalid_utf8_) {
    row->problem = JsonRow::Problem::InvalidUtf8;
    row->problem_key = sax.utf8_key_;
  } else {
    row->problem = JsonRow::Problem::Malformed;
    row->message = str_cat("malformed JSON at character ", sax.error_position_, ": ",
                           sax.error_message_);
  }
}

void JsonRowReader::parse_list(const std::string& text, const std::string& path,
                               const std::function<void(JsonRow&)>& on_row) const {
  Consumed consumed;
  JsonRow row;
  RowSax sax(wanted_, 1, &row, &on_row, &consumed, 0);
  CountingIterator first{text.data(), &consumed};
  CountingIterator last{text.data() + text.size(), &consumed};
  const bool ok = json::sax_parse(first, last, &sax);
  if (ok) return;
  if (sax.not_a_list_)
    DT_FAIL(path, ":", 1 + consumed.newlines, ": expected a JSON list of objects, got ",
            json_kind_name(sax.top_kind_));
  if (sax.invalid_utf8_)
    DT_FAIL(path, ":", 1 + consumed.newlines, ": invalid UTF-8",
            sax.utf8_key_.empty() ? std::string(" in a key")
                                  : str_cat(" in column '", sax.utf8_key_, "'"));
  DT_FAIL(path, ":", 1 + consumed.newlines, ": malformed JSON: ", sax.error_message_);
}

}  // namespace disttune
