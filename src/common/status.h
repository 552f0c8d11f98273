// Status and Result<T>: how fallible operations on user input (files, configs, models)
// report failure. A Status is either OK or carries one human-readable message that already
// names the file, line or key and what was expected; callers add context, never replace it.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "common/check.h"

namespace disttune {

class Status {
 public:
  Status() = default;
  static Status OK() { return Status(); }
  static Status Error(std::string msg) { return Status(std::move(msg)); }

  bool ok() const { return !msg_.has_value(); }
  const std::string& message() const {
    static const std::string kOk = "OK";
    return msg_ ? *msg_ : kOk;
  }
  // "ctx: message", for wrapping a lower-level error with where it happened.
  Status with_context(const std::string& ctx) const {
    return ok() ? *this : Status(ctx + ": " + *msg_);
  }
  // Throws UserError when not OK: the boundary between Status code and the command layer.
  void throw_if_error() const {
    if (!ok()) throw UserError(*msg_);
  }

 private:
  explicit Status(std::string msg) : msg_(std::move(msg)) {}
  std::optional<std::string> msg_;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    DT_CHECK(!status_.ok(), "Result constructed from an OK status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // Accessing the value of an error throws it as a UserError.
  const T& value() const& {
    status_.throw_if_error();
    return *value_;
  }
  T& value() & {
    status_.throw_if_error();
    return *value_;
  }
  T&& value() && {
    status_.throw_if_error();
    return std::move(*value_);
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

#define DT_RETURN_IF_ERROR(expr)       \
  do {                                 \
    ::disttune::Status _st = (expr);   \
    if (!_st.ok()) return _st;         \
  } while (0)

}  // namespace disttune
