#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace runledger {

// Error categories. The server maps each to exactly one HTTP status (see
// server/problem.cc); `reason` below carries the SPEC's machine word.
enum class Code : unsigned char {
  kOk,
  kBadRequest,           // 400: malformed JSON, bad query or cursor
  kUnauthorized,         // 401
  kForbidden,            // 403
  kNotFound,             // 404
  kConflict,             // 409: invalid_transition, action_not_supported, ...
  kPreconditionFailed,   // 412: version_conflict
  kPayloadTooLarge,      // 413
  kUnsupportedMediaType, // 415
  kUnprocessable,        // 422: schema_violation, idempotency_mismatch, ...
  kUnavailable,          // 503: the store is not writable
  kCorruption,           // bad bytes read from disk
  kIOError,              // the file system failed
  kInternal,
};

// A cheap error value: ledger/ and projections/ never throw.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string reason, std::string message)
      : code_(code), reason_(std::move(reason)), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status BadRequest(std::string message) {
    return {Code::kBadRequest, "bad_request", std::move(message)};
  }
  static Status Schema(std::string message) {
    return {Code::kUnprocessable, "schema_violation", std::move(message)};
  }
  static Status NotFound(std::string reason, std::string message) {
    return {Code::kNotFound, std::move(reason), std::move(message)};
  }
  static Status Conflict(std::string reason, std::string message) {
    return {Code::kConflict, std::move(reason), std::move(message)};
  }
  static Status Corruption(std::string message) {
    return {Code::kCorruption, "corruption", std::move(message)};
  }
  static Status IOError(std::string message) {
    return {Code::kIOError, "io_error", std::move(message)};
  }
  static Status Unavailable(std::string message) {
    return {Code::kUnavailable, "unavailable", std::move(message)};
  }
  static Status Internal(std::string message) {
    return {Code::kInternal, "internal", std::move(message)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The SPEC's stable machine word, e.g. "invalid_transition".
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  std::string ToString() const { return ok() ? "ok" : reason_ + ": " + message_; }

 private:
  Code code_ = Code::kOk;
  std::string reason_;
  std::string message_;
};

// A value or an error, with std::expected-like names.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : value_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(value_).ok());
  }

  bool has_value() const { return std::holds_alternative<T>(value_); }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Status& error() const { return std::get<Status>(value_); }
  Status status() const { return has_value() ? Status::Ok() : error(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace runledger

#define RUNLEDGER_RETURN_IF_ERROR(expr)   \
  do {                                    \
    ::runledger::Status status_ = (expr); \
    if (!status_.ok()) return status_;    \
  } while (false)
