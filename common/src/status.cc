#include "taskmaster/status.h"

#include <cstring>

namespace taskmaster {

const char* StatusCodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kNotFound: return "not found";
    case Status::Code::kCorruption: return "corruption";
    case Status::Code::kInvalidArgument: return "invalid argument";
    case Status::Code::kIOError: return "I/O error";
    case Status::Code::kUnavailable: return "unavailable";
    case Status::Code::kTimeout: return "timeout";
    case Status::Code::kFenced: return "fenced";
    case Status::Code::kTooLarge: return "too large";
    case Status::Code::kBusy: return "busy";
  }
  return "unknown";
}

Status Status::FromErrno(const std::string& context, int err) {
  char buf[256];
  // GNU strerror_r returns the message, possibly not in buf.
  const char* text = strerror_r(err, buf, sizeof(buf));
  if (err == ENOENT) return NotFound(context + ": " + text);
  return IOError(context + ": " + text);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

}  // namespace taskmaster
