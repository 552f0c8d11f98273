// JsonRowReader: the fields a reader wants from flat JSON objects — one per JSONL line, or
// the elements of a JSON list — parsed with nlohmann's SAX interface so that no DOM is
// built and every failure can be attributed: the key whose value holds invalid UTF-8, the
// JSON type found where a string was expected, the line a list element starts on.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace disttune {

enum class JsonKind { Missing, Null, Bool, Integer, Float, String, Array, Object };

// How a JSON type is named in messages: "null", "boolean", "number", "string", ...
const char* json_kind_name(JsonKind k);

struct JsonCell {
  JsonKind kind = JsonKind::Missing;
  std::string text;   // String: the value; Integer: its decimal digits
  double number = 0;  // Integer and Float
  // Array: its elements when every one is a number (a score given as a list); otherwise
  // all_numbers is false.
  std::vector<double> numbers;
  bool all_numbers = true;
};

struct JsonRow {
  enum class Problem { None, Malformed, InvalidUtf8, NotObject };
  std::vector<JsonCell> cells;    // one per wanted key, in the order given; Missing if absent
  std::vector<std::string> keys;  // every top-level key of the object, in order
  int64_t line = 0;               // 1-based line on which the object starts
  Problem problem = Problem::None;
  std::string problem_key;  // InvalidUtf8: the key whose value holds the bad bytes ("" if a key)
  std::string message;      // Malformed / NotObject: what was wrong, for the user
};

class JsonRowReader {
 public:
  explicit JsonRowReader(std::vector<std::string> wanted);

  // One JSONL line that must hold exactly one object. Problems come back in row->problem.
  void parse_line(const std::string& text, int64_t line, JsonRow* row) const;

  // A whole JSON document that must be a list; on_row gets each element (elements that are
  // not objects come with Problem::NotObject). A document that is not a list or is not valid
  // JSON cannot be resynchronised, so it throws UserError naming path:line.
  void parse_list(const std::string& text, const std::string& path,
                  const std::function<void(JsonRow&)>& on_row) const;

  const std::vector<std::string>& wanted() const { return wanted_; }

 private:
  std::vector<std::string> wanted_;
};

}  // namespace disttune
