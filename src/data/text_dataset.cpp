#include "data/text_dataset.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <charconv>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <unordered_map>

#include "common/check.h"
#include "data/byte_stream.h"
#include "data/delimited_reader.h"
#include "data/json_rows.h"
#include "data/utf8.h"

namespace disttune {

BadRowPolicy parse_bad_row_policy(const std::string& s) {
  if (s == "error") return BadRowPolicy::Error;
  if (s == "skip") return BadRowPolicy::Skip;
  DT_FAIL("on_bad_row: expected 'error' or 'skip', got '", s, "'");
}

int64_t ReadReport::skipped_total() const {
  int64_t n = 0;
  for (const auto& [reason, count] : skipped) n += count;
  return n;
}

std::string ReadReport::summary() const {
  std::ostringstream os;
  os << rows_read << " rows read, ";
  const int64_t n_skipped = skipped_total();
  if (n_skipped == 0) {
    os << "all kept";
    return os.str();
  }
  os << rows_kept << " kept, " << n_skipped << " skipped (";
  bool first = true;
  for (const auto& [reason, count] : skipped) {
    os << (first ? "" : ", ") << reason << ": " << count;
    first = false;
  }
  os << ")";
  if (!examples.empty()) os << "; first skipped: " << examples.front();
  return os.str();
}

const char* data_format_name(DataFormat f) {
  switch (f) {
    case DataFormat::Pairs: return "pairs";
    case DataFormat::Triplets: return "triplets";
    case DataFormat::Scored: return "scored pairs";
    case DataFormat::Texts: return "texts";
  }
  return "?";
}

std::vector<int64_t> TextDataset::all_rows() const {
  std::vector<int64_t> r(static_cast<size_t>(size()));
  std::iota(r.begin(), r.end(), int64_t{0});
  return r;
}

std::string TextDataset::format_name() const {
  if (labeled()) return "labeled texts";
  const bool with_scores = format == DataFormat::Triplets && !scores.empty();
  return std::string(data_format_name(format)) + (with_scores ? " with scores" : "");
}

int TextDataset::role_index(const std::string& role) const {
  for (size_t i = 0; i < roles.size(); ++i)
    if (roles[i] == role) return static_cast<int>(i);
  return -1;
}

const std::vector<std::string>& TextDataset::column(const std::string& role) const {
  const int i = role_index(role);
  DT_CHECK(i >= 0, "dataset ", source, " has no role '", role, "'");
  return columns[static_cast<size_t>(i)];
}

namespace {

// negative -> 1, negative_N -> N (N >= 1), anything else -> 0.
int64_t negative_number(const std::string& role) {
  if (role == "negative") return 1;
  if (role.rfind("negative_", 0) != 0 || role.size() == 9) return 0;
  int64_t n = 0;
  for (size_t i = 9; i < role.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(role[i])) || n > 1000000) return 0;
    n = n * 10 + (role[i] - '0');
  }
  return n;
}

}  // namespace

ColumnMapping map_columns(const std::map<std::string, std::string>& columns) {
  ColumnMapping m;
  std::vector<std::pair<int64_t, std::string>> negatives;  // (order, role)
  bool anchor = false, positive = false, s1 = false, s2 = false, score = false, text = false;
  for (const auto& [role, col] : columns) {
    if (col.empty()) DT_FAIL("column mapping: role '", role, "' maps to no column");
    if (role == "anchor") {
      anchor = true;
    } else if (role == "positive") {
      positive = true;
    } else if (role == "sentence1") {
      s1 = true;
    } else if (role == "sentence2") {
      s2 = true;
    } else if (role == "score") {
      score = true;
      m.score_column = col;
    } else if (role == "id") {
      m.id_column = col;
    } else if (role == "text") {
      text = true;
    } else if (role == "label") {
      m.label_column = col;
    } else if (const int64_t n = negative_number(role)) {
      // "negative" and "negative_1" both sort first; "negative" wins the tie.
      negatives.emplace_back(n * 2 + (role == "negative" ? 0 : 1), role);
    } else {
      DT_FAIL("column mapping: unknown role '", role,
              "' (expected anchor, positive, negative, negative_2, ..., id, or sentence1, "
              "sentence2, score, or text, label)");
    }
  }
  const bool scored = s1 || s2 || (score && !anchor && !positive && negatives.empty());
  if (text) {
    if (anchor || positive || s1 || s2 || score || !negatives.empty())
      DT_FAIL("column mapping: role 'text' (plain texts) cannot be combined with other text roles");
    m.format = DataFormat::Texts;
    m.roles = {"text"};
  } else if (!m.label_column.empty()) {
    DT_FAIL("column mapping: role 'label' (a class per text) goes with role 'text' only; scored pairs "
            "take a score");
  } else if (scored) {
    if (anchor || positive || !negatives.empty())
      DT_FAIL("column mapping: mixes scored-pair roles (sentence1, sentence2) with "
              "anchor/positive/negative roles");
    if (!(s1 && s2 && score))
      DT_FAIL("column mapping: scored pairs need sentence1, sentence2 and score; missing ",
              !s1 ? "sentence1" : !s2 ? "sentence2" : "score");
    m.format = DataFormat::Scored;
    m.roles = {"sentence1", "sentence2"};
  } else {
    if (!anchor || !positive)
      DT_FAIL("column mapping: needs roles anchor and positive (or sentence1, sentence2, "
              "score); missing ", !anchor ? "anchor" : "positive");
    // A score beside a tuple is MarginMSELoss's label: the teacher's margin between the
    // positive and the negative, which a pair does not have.
    if (score && negatives.empty())
      DT_FAIL("column mapping: a score beside anchor and positive needs a negative (it is the margin "
              "between the two, as margin_mse reads it); scored pairs are sentence1, sentence2, score");
    std::sort(negatives.begin(), negatives.end());
    m.format = negatives.empty() ? DataFormat::Pairs : DataFormat::Triplets;
    m.roles = {"anchor", "positive"};
    for (const auto& n : negatives) m.roles.push_back(n.second);
  }
  for (const auto& r : m.roles) m.role_columns.push_back(columns.at(r));
  return m;
}

namespace {

enum class FileKind { Jsonl, JsonList, Csv, Tsv };

std::string lower_extension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

FileKind detect_kind(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == "jsonl" || ext == "ndjson") return FileKind::Jsonl;
  if (ext == "csv") return FileKind::Csv;
  if (ext == "tsv" || ext == "tab") return FileKind::Tsv;
  if (ext == "json") {
    // A list, or JSON lines saved as .json (what `datasets` to_json writes by default).
    ByteStream in(path);
    int c = in.get();
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r') c = in.get();
    return c == '[' ? FileKind::JsonList : FileKind::Jsonl;
  }
  DT_FAIL(path, ": unsupported file type '", ext.empty() ? std::string("(none)") : "." + ext,
          "' (expected .jsonl, .json, .csv or .tsv)");
}

std::string preview(const std::string& s) {
  std::string p = s.size() > 40 ? s.substr(0, 40) + "..." : s;
  for (char& c : p)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return p;
}

// One value of a row as read from the file, before validation.
struct Cell {
  JsonKind kind = JsonKind::Missing;
  const std::string* text = nullptr;  // String (and Integer from JSON)
  double number = 0;                  // JSON numbers
  bool delimited = false;             // from CSV/TSV: raw bytes, not yet UTF-8 checked
  const JsonCell* json = nullptr;     // JSON: the whole cell (a list's numbers)
};

// Validates rows and appends the good ones; applies the bad-row policy to the others.
class RowSink {
 public:
  RowSink(const std::string& path, const ColumnMapping& m, BadRowPolicy policy, TextDataset* out)
      : path_(path), m_(m), policy_(policy), out_(out) {
    // The distinct columns to fetch; each text role, the score and the id point into them.
    auto slot_of = [&](const std::string& col) {
      for (size_t i = 0; i < wanted_.size(); ++i)
        if (wanted_[i] == col) return static_cast<int>(i);
      wanted_.push_back(col);
      return static_cast<int>(wanted_.size() - 1);
    };
    for (const auto& c : m.role_columns) role_slot_.push_back(slot_of(c));
    if (!m.score_column.empty()) score_slot_ = slot_of(m.score_column);
    if (!m.label_column.empty()) label_slot_ = slot_of(m.label_column);
    if (!m.id_column.empty()) id_slot_ = slot_of(m.id_column);
    out_->format = m.format;
    out_->roles = m.roles;
    out_->columns.assign(m.roles.size(), {});
    out_->source = path;
  }

  const std::vector<std::string>& wanted() const { return wanted_; }

  // "column 'question' (anchor)", or "column 'anchor'" when the role is the column's name.
  std::string describe(const std::string& col) const {
    std::string role;
    for (size_t i = 0; i < m_.roles.size(); ++i)
      if (m_.role_columns[i] == col) role = m_.roles[i];
    if (role.empty() && col == m_.score_column) role = "score";
    if (role.empty() && col == m_.label_column) role = "label";
    if (role.empty() && col == m_.id_column) role = "id";
    if (role.empty() || role == col) return str_cat("column '", col, "'");
    return str_cat("column '", col, "' (", role, ")");
  }

  void bad(int64_t line, const char* reason, const std::string& detail) {
    const std::string msg = str_cat(path_, ":", line, ": ", detail);
    if (policy_ == BadRowPolicy::Error) throw UserError(msg);
    out_->report.skipped[reason]++;
    if (out_->report.examples.size() < 3) out_->report.examples.push_back(msg);
  }

  // `keys`: the columns the row has, for the message about a missing one.
  void add(int64_t line, const std::vector<Cell>& cells, const std::vector<std::string>& keys) {
    std::string detail;
    const char* reason = nullptr;
    auto fail = [&](const char* why, const std::string& col, const std::string& what) {
      reason = why;
      detail = str_cat(describe(col), ": ", what);
      return false;
    };
    auto missing = [&](const std::string& col) {
      std::string have;
      for (const auto& k : keys) have += (have.empty() ? "" : ", ") + k;
      return fail(bad_row::kMissingColumn, col,
                  have.empty() ? std::string("missing (the row has no columns)")
                               : str_cat("missing (the row has: ", have, ")"));
    };
    auto utf8_ok = [&](const Cell& c, const std::string& col) {
      if (!c.delimited) return true;  // the JSON parser has checked it
      const size_t bad_at = find_invalid_utf8(*c.text);
      if (bad_at == std::string::npos) return true;
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>((*c.text)[bad_at]));
      return fail(bad_row::kInvalidUtf8, col,
                  str_cat("invalid UTF-8 (byte ", hex, " at offset ", bad_at, ")"));
    };
    auto check_text = [&](const Cell& c, const std::string& col) {
      if (c.kind == JsonKind::Missing) return missing(col);
      if (c.kind != JsonKind::String)
        return fail(bad_row::kWrongType, col,
                    str_cat("expected a string, got ", json_kind_name(c.kind)));
      if (!utf8_ok(c, col)) return false;
      if (is_blank(*c.text))
        return fail(bad_row::kEmptyText, col,
                    c.text->empty() ? "empty text" : "empty text (only whitespace)");
      return true;
    };
    std::vector<float> score;  // one number, or a triplet's list (margin_mse's labels)
    auto check_score = [&](const Cell& c, const std::string& col) {
      if (c.kind == JsonKind::Missing) return missing(col);
      score.clear();
      if (c.kind == JsonKind::Array && m_.format == DataFormat::Triplets) {
        if (!c.json->all_numbers || c.json->numbers.empty())
          return fail(bad_row::kWrongType, col,
                      c.json->numbers.empty() && c.json->all_numbers ? "expected a number or a list of numbers, got []"
                                                                      : "expected a list of numbers");
        if (out_->size() > 0 && c.json->numbers.size() != static_cast<size_t>(out_->score_width))
          return fail(bad_row::kWrongType, col,
                      str_cat("a list of ", c.json->numbers.size(), " numbers where the rows before have ",
                              out_->score_width));
        for (double v : c.json->numbers) {
          if (!std::isfinite(v) || !std::isfinite(static_cast<float>(v)))
            return fail(bad_row::kWrongType, col, "expected finite numbers");
          score.push_back(static_cast<float>(v));
        }
        return true;
      }
      double v = c.number;
      if (c.delimited) {
        if (!utf8_ok(c, col)) return false;
        const std::string& s = *c.text;
        const size_t b = s.find_first_not_of(" \t");
        const size_t e = s.find_last_not_of(" \t");
        const char* first = b == std::string::npos ? s.data() : s.data() + b;
        const char* last = b == std::string::npos ? s.data() : s.data() + e + 1;
        if (first != last && *first == '+') ++first;
        const auto r = std::from_chars(first, last, v);
        if (first == last || r.ec != std::errc() || r.ptr != last)
          return fail(bad_row::kWrongType, col,
                      str_cat("expected a number, got '", preview(s), "'"));
      } else if (c.kind != JsonKind::Integer && c.kind != JsonKind::Float) {
        return fail(bad_row::kWrongType, col,
                    str_cat("expected a number", m_.format == DataFormat::Triplets ? " or a list of numbers" : "",
                            ", got ", json_kind_name(c.kind)));
      }
      if (!std::isfinite(v) || !std::isfinite(static_cast<float>(v)))
        return fail(bad_row::kWrongType, col, "expected a finite number");
      if (out_->size() > 0 && out_->score_width != 1)
        return fail(bad_row::kWrongType, col,
                    str_cat("one number where the rows before have a list of ", out_->score_width));
      score.push_back(static_cast<float>(v));
      return true;
    };
    // An id, or a class: a string or an integer (sentence-transformers' labels are integers;
    // a string names its class as well), compared by its text, so 1 and "1" are one class.
    // A label of blanks is empty too: it would be a class of its own that no one meant.
    auto check_key = [&](const Cell& c, const std::string& col, bool label) {
      if (c.kind == JsonKind::Missing) return missing(col);
      if (c.kind != JsonKind::String && c.kind != JsonKind::Integer)
        return fail(bad_row::kWrongType, col,
                    str_cat(label ? "expected a class label (a string or an integer), got "
                                  : "expected a string or an integer, got ",
                            json_kind_name(c.kind)));
      if (!utf8_ok(c, col)) return false;
      if (label ? is_blank(*c.text) : c.text->empty())
        return fail(bad_row::kEmptyText, col, label ? "empty label" : "empty id");
      return true;
    };

    bool ok = true;
    for (size_t r = 0; ok && r < m_.roles.size(); ++r)
      ok = check_text(cells[static_cast<size_t>(role_slot_[r])], m_.role_columns[r]);
    if (ok && score_slot_ >= 0) ok = check_score(cells[static_cast<size_t>(score_slot_)], m_.score_column);
    if (ok && label_slot_ >= 0) ok = check_key(cells[static_cast<size_t>(label_slot_)], m_.label_column, true);
    if (ok && id_slot_ >= 0) ok = check_key(cells[static_cast<size_t>(id_slot_)], m_.id_column, false);
    if (!ok) {
      bad(line, reason, detail);
      return;
    }
    for (size_t r = 0; r < m_.roles.size(); ++r)
      out_->columns[r].push_back(*cells[static_cast<size_t>(role_slot_[r])].text);
    if (score_slot_ >= 0) {
      out_->score_width = static_cast<int>(score.size());
      out_->scores.insert(out_->scores.end(), score.begin(), score.end());
    }
    if (label_slot_ >= 0) {
      const std::string& label = *cells[static_cast<size_t>(label_slot_)].text;
      const auto it = classes_.emplace(label, static_cast<int64_t>(out_->label_names.size())).first;
      if (it->second == static_cast<int64_t>(out_->label_names.size())) {
        // Class ids travel as float labels, exact below 2^24.
        if (it->second >= (int64_t{1} << 24)) DT_FAIL(path_, ":", line, ": more than 2^24 distinct labels");
        out_->label_names.push_back(label);
      }
      out_->scores.push_back(static_cast<float>(it->second));
    }
    if (id_slot_ >= 0) out_->ids.push_back(*cells[static_cast<size_t>(id_slot_)].text);
    out_->lines.push_back(line);
    out_->report.rows_kept++;
  }

  // A parsed JSON object (or the failure to parse one).
  void add_json(const JsonRow& row) {
    switch (row.problem) {
      case JsonRow::Problem::Malformed:
      case JsonRow::Problem::NotObject:
        bad(row.line, bad_row::kMalformed, row.message);
        return;
      case JsonRow::Problem::InvalidUtf8:
        bad(row.line, bad_row::kInvalidUtf8,
            row.problem_key.empty() ? std::string("invalid UTF-8 in a key")
                                    : describe(row.problem_key) + ": invalid UTF-8");
        return;
      case JsonRow::Problem::None:
        break;
    }
    cells_.resize(row.cells.size());
    for (size_t i = 0; i < row.cells.size(); ++i) {
      const JsonCell& jc = row.cells[i];
      cells_[i] = Cell{jc.kind, &jc.text, jc.number, false, &jc};
    }
    add(row.line, cells_, row.keys);
  }

 private:
  const std::string& path_;
  const ColumnMapping& m_;
  BadRowPolicy policy_;
  TextDataset* out_;
  std::vector<std::string> wanted_;
  std::vector<int> role_slot_;
  int score_slot_ = -1;
  int label_slot_ = -1;
  int id_slot_ = -1;
  std::unordered_map<std::string, int64_t> classes_;  // label -> class id
  std::vector<Cell> cells_;
};

void read_jsonl(const std::string& path, RowSink& sink, ReadReport& report) {
  ByteStream in(path);
  JsonRowReader reader(sink.wanted());
  std::string line;
  JsonRow row;
  int64_t line_no = 0;
  while (in.read_line(&line)) {
    ++line_no;
    if (is_blank(line)) continue;
    report.rows_read++;
    reader.parse_line(line, line_no, &row);
    sink.add_json(row);
  }
}

void read_json_list(const std::string& path, RowSink& sink, ReadReport& report) {
  std::ifstream in(path, std::ios::binary);
  if (!in) DT_FAIL(path, ": cannot open: ", std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  JsonRowReader reader(sink.wanted());
  reader.parse_list(text, path, [&](JsonRow& row) {
    report.rows_read++;
    sink.add_json(row);
  });
}

void read_delimited(const std::string& path, char delimiter,
                    RowSink& sink, ReadReport& report) {
  DelimitedReader in(path, delimiter);
  DelimitedRecord rec;
  if (!in.next(&rec)) return;  // empty file: no header, no rows
  if (!rec.error.empty()) DT_FAIL(path, ":", rec.line, ": header: ", rec.error);
  const std::vector<std::string> header = rec.fields;
  const int64_t header_line = rec.line;
  std::vector<size_t> field_of;  // wanted column -> field index
  for (const auto& col : sink.wanted()) {
    size_t found = header.size();
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] != col) continue;
      if (found != header.size())
        DT_FAIL(path, ":", header_line, ": header: column '", col,
                "' appears more than once");
      found = i;
    }
    if (found == header.size()) {
      std::string have;
      for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
      DT_FAIL(path, ":", header_line, ": header: no ", sink.describe(col), " (the header has: ",
              have, ")");
    }
    field_of.push_back(found);
  }
  std::vector<Cell> cells(sink.wanted().size());
  while (in.next(&rec)) {
    report.rows_read++;
    if (!rec.error.empty()) {
      sink.bad(rec.line, bad_row::kMalformed, rec.error);
      continue;
    }
    if (rec.fields.size() != header.size()) {
      sink.bad(rec.line, bad_row::kMalformed,
               str_cat("expected ", header.size(), " fields as in the header, got ",
                       rec.fields.size()));
      continue;
    }
    for (size_t i = 0; i < cells.size(); ++i)
      cells[i] = Cell{JsonKind::String, &rec.fields[field_of[i]], 0, true};
    sink.add(rec.line, cells, header);
  }
}

}  // namespace

TextDataset read_text_dataset(const std::string& path,
                              const std::map<std::string, std::string>& columns,
                              BadRowPolicy policy) {
  const ColumnMapping m = map_columns(columns);
  const FileKind kind = detect_kind(path);
  TextDataset out;
  RowSink sink(path, m, policy, &out);
  switch (kind) {
    case FileKind::Jsonl: read_jsonl(path, sink, out.report); break;
    case FileKind::JsonList: read_json_list(path, sink, out.report); break;
    case FileKind::Csv: read_delimited(path, ',', sink, out.report); break;
    case FileKind::Tsv: read_delimited(path, '\t', sink, out.report); break;
  }
  if (out.report.rows_read == 0) DT_FAIL(path, ": no rows");
  if (out.report.rows_kept == 0)
    DT_FAIL(path, ": no usable rows (", out.report.summary(), ")");
  return out;
}

}  // namespace disttune
