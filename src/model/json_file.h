// Small JSON configuration files of model directories (config.json, modules.json, ...):
// reading with errors that name the file and key, and atomic pretty-printed writing.
// Key order is preserved so that a loaded file is written back in its original order.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "common/status.h"

namespace disttune {

class Env;
using Json = nlohmann::ordered_json;

// Parses `path`; throws UserError naming the file (and line/column for syntax errors).
Json read_json_file(const std::string& path);

// Typed, defaulted access to the members of one JSON object; errors name file and key.
class JsonObject {
 public:
  JsonObject(const Json& j, std::string file);  // throws unless `j` is an object
  bool has(const std::string& key) const;        // present and not null
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_double(const std::string& key, double def) const;
  bool get_bool(const std::string& key, bool def) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  [[noreturn]] void fail(const std::string& key, const std::string& msg) const;
  const Json& json() const { return j_; }
  const std::string& file() const { return file_; }

 private:
  const Json& j_;
  std::string file_;
};

// Writes `j` indented by 2 with a final newline, atomically through `env` (default Env).
Status write_json_file(const std::string& path, const Json& j, Env* env = nullptr);

}  // namespace disttune
