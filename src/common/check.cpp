#include "common/check.h"

#include <cstring>

namespace disttune {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

void throw_internal(const char* file, int line, const char* cond, const std::string& msg) {
  // Strip the source directory so messages stay short and identical across checkouts.
  const char* rel = std::strstr(file, "/src/");
  std::string where = rel ? std::string(rel + 1) : std::string(file);
  throw InternalError(str_cat(where, ":", line, ": check failed: ", cond,
                              msg.empty() ? "" : " (", msg, msg.empty() ? "" : ")"));
}

}  // namespace disttune
