#include "common/status.h"

#include <cerrno>

namespace dfs {

namespace {
struct CodeInfo {
  Code code;
  std::string_view name;
  int http;
  int err;
};

constexpr CodeInfo kCodes[] = {
    {Code::kOk, "ok", 200, 0},
    {Code::kInvalidArgument, "bad_request", 400, EINVAL},
    {Code::kNotFound, "not_found", 404, ENOENT},
    {Code::kAlreadyExists, "already_exists", 409, EEXIST},
    {Code::kNotEmpty, "not_empty", 409, ENOTEMPTY},
    {Code::kIsDirectory, "is_directory", 409, EISDIR},
    {Code::kNotDirectory, "not_directory", 409, ENOTDIR},
    {Code::kChecksumMismatch, "checksum_mismatch", 422, EIO},
    {Code::kTooLarge, "too_large", 413, EFBIG},
    {Code::kUnauthenticated, "unauthorized", 401, EACCES},
    {Code::kPermissionDenied, "forbidden", 403, EACCES},
    {Code::kAccessDenied, "access_denied", 403, EACCES},
    {Code::kNotPermitted, "not_permitted", 403, EPERM},
    {Code::kNoSpace, "no_space", 507, ENOSPC},
    {Code::kUnavailable, "unavailable", 503, EIO},
    {Code::kIOError, "io_error", 500, EIO},
    {Code::kInternal, "internal", 500, EIO},
};

const CodeInfo& Info(Code code) {
  for (const auto& info : kCodes) {
    if (info.code == code) return info;
  }
  return kCodes[sizeof(kCodes) / sizeof(kCodes[0]) - 1];
}
}  // namespace

std::string_view Status::code_name() const { return Info(code_).name; }
int Status::http_status() const { return Info(code_).http; }
int Status::to_errno() const { return Info(code_).err; }

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(code_name()) + ": " + message_;
}

Status Status::FromHttp(int http_status, std::string_view error_code, std::string message) {
  if (http_status >= 200 && http_status < 300) return OK();
  for (const auto& info : kCodes) {
    if (info.code != Code::kOk && info.name == error_code) return {info.code, std::move(message)};
  }
  // No (known) JSON error code: fall back on the HTTP status alone.
  switch (http_status) {
    case 400: return InvalidArgument(std::move(message));
    case 401: return Unauthenticated(std::move(message));
    case 403: return PermissionDenied(std::move(message));
    case 404: return NotFound(std::move(message));
    case 409: return AlreadyExists(std::move(message));
    case 413: return TooLarge(std::move(message));
    case 422: return ChecksumMismatch(std::move(message));
    case 502:
    case 503:
    case 504: return Unavailable(std::move(message));
    case 507: return NoSpace(std::move(message));
    default:
      if (http_status >= 500) return IOError(std::move(message));
      return InvalidArgument(std::move(message));
  }
}

}  // namespace dfs
