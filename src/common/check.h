// Errors and checks. Two kinds of failure, reported differently:
//  - UserError: bad input (config, data, model files, flags). The message is the whole
//    story for the user: file, line or key, and what was expected.
//  - InternalError (DT_CHECK): a broken invariant inside disttune; the message carries the
//    source file and line so that a bug report points at the code.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace disttune {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& msg) : std::runtime_error(msg) {}
};

class InternalError : public std::runtime_error {
 public:
  explicit InternalError(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
inline void stream_all(std::ostringstream&) {}
template <typename T, typename... Rest>
void stream_all(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  stream_all(os, rest...);
}
}  // namespace detail

template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::stream_all(os, args...);
  return os.str();
}

// The strings with `sep` between them, for messages that list names: join({"a", "b"}, ", ")
// is "a, b".
std::string join(const std::vector<std::string>& v, const char* sep);

[[noreturn]] void throw_internal(const char* file, int line, const char* cond,
                                 const std::string& msg);

}  // namespace disttune

// DT_CHECK(cond, parts...): internal invariant; throws InternalError "file:line: ...".
#define DT_CHECK(cond, ...)                                                               \
  do {                                                                                    \
    if (!(cond))                                                                          \
      ::disttune::throw_internal(__FILE__, __LINE__, #cond,                               \
                                 ::disttune::str_cat("", ##__VA_ARGS__));     \
  } while (0)

// DT_FAIL(parts...): user-facing error (bad input); the message must name what and where.
#define DT_FAIL(...) throw ::disttune::UserError(::disttune::str_cat(__VA_ARGS__))

// DT_REQUIRE(cond, parts...): DT_FAIL unless cond.
#define DT_REQUIRE(cond, ...)          \
  do {                                 \
    if (!(cond)) DT_FAIL(__VA_ARGS__); \
  } while (0)
