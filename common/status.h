// Status and Result<T>: errors as values at module boundaries (after LevelDB's
// Status). Each code maps to one HTTP status and one errno, so the HTTP edge
// and the FUSE edge translate errors the same way.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dfs {

enum class Code {
  kOk = 0,
  kInvalidArgument,   // 400 bad_request: bad name, bad header, bad body
  kNotFound,          // 404 not_found
  kAlreadyExists,     // 409 already_exists
  kNotEmpty,          // 409 not_empty (rmdir of a non-empty directory)
  kIsDirectory,       // 409 is_directory
  kNotDirectory,      // 409 not_directory
  kChecksumMismatch,  // 422 checksum_mismatch
  kTooLarge,          // 413 too_large
  kUnauthenticated,   // 401 unauthorized: no or a wrong cluster token
  kPermissionDenied,  // 403 forbidden: a read-only token asked to write
  kAccessDenied,      // 403 access_denied: the mode bits refuse the caller (EACCES)
  kNotPermitted,      // 403 not_permitted: only the owner or root may (EPERM)
  kNoSpace,           // 507 no_space
  kUnavailable,       // 503 unavailable: no healthy node, connection refused, timeout
  kIOError,           // 500 io_error
  kInternal,          // 500 internal
};

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status NotEmpty(std::string m) { return {Code::kNotEmpty, std::move(m)}; }
  static Status IsDirectory(std::string m) { return {Code::kIsDirectory, std::move(m)}; }
  static Status NotDirectory(std::string m) { return {Code::kNotDirectory, std::move(m)}; }
  static Status ChecksumMismatch(std::string m) { return {Code::kChecksumMismatch, std::move(m)}; }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status AccessDenied(std::string m) { return {Code::kAccessDenied, std::move(m)}; }
  static Status NotPermitted(std::string m) { return {Code::kNotPermitted, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "not_found", "checksum_mismatch", ...: the "error" field of JSON errors.
  std::string_view code_name() const;
  int http_status() const;
  // Positive errno for the FUSE edge (ENOENT, EEXIST, ENOSPC, EIO, ...).
  int to_errno() const;
  std::string ToString() const;

  // Inverse of code_name()/http_status(): used by clients to turn an HTTP
  // error answer back into a Status.
  static Status FromHttp(int http_status, std::string_view error_code, std::string message);

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace dfs
