#include "model/json_file.h"

#include <fstream>
#include <sstream>

#include "common/env.h"
#include "common/json_input.h"

namespace disttune {

Json read_json_file(const std::string& path) {
  std::string text;
  Status st = Env::Default()->read_file(path, &text);
  st.throw_if_error();
  try {
    return parse_json_limited<Json>(text);
  } catch (const nlohmann::json::exception& e) {
    DT_FAIL(path, ": not valid JSON: ", e.what());
  } catch (const JsonTooDeep& e) {
    DT_FAIL(path, ": ", e.what());
  }
}

JsonObject::JsonObject(const Json& j, std::string file) : j_(j), file_(std::move(file)) {
  DT_REQUIRE(j_.is_object(), file_, ": expected a JSON object, got ", j_.type_name());
}

bool JsonObject::has(const std::string& key) const {
  auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

void JsonObject::fail(const std::string& key, const std::string& msg) const {
  DT_FAIL(file_, ": key \"", key, "\": ", msg);
}

int64_t JsonObject::get_int(const std::string& key, int64_t def) const {
  if (!has(key)) return def;
  const Json& v = j_.at(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  // Some writers store integral values as floats (512.0).
  if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
    return static_cast<int64_t>(v.get<double>());
  fail(key, str_cat("expected an integer, got ", json_brief(v)));
}

double JsonObject::get_double(const std::string& key, double def) const {
  if (!has(key)) return def;
  const Json& v = j_.at(key);
  if (!v.is_number()) fail(key, str_cat("expected a number, got ", json_brief(v)));
  return v.get<double>();
}

bool JsonObject::get_bool(const std::string& key, bool def) const {
  if (!has(key)) return def;
  const Json& v = j_.at(key);
  if (!v.is_boolean()) fail(key, str_cat("expected true or false, got ", json_brief(v)));
  return v.get<bool>();
}

std::string JsonObject::get_string(const std::string& key, const std::string& def) const {
  if (!has(key)) return def;
  const Json& v = j_.at(key);
  if (!v.is_string()) fail(key, str_cat("expected a string, got ", json_brief(v)));
  return v.get<std::string>();
}

Status write_json_file(const std::string& path, const Json& j, Env* env) {
  if (!env) env = Env::Default();
  return env->write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace disttune
