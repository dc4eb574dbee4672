// Status and Result<T>: expected failures as values.
//
// A Status is either OK or carries a code and a message that names the problem.
// The code decides what the caller does next (retry, fall back, which exit code);
// the message is for people. Result<T> is a value or a non-OK Status.
// Both are cheap to move and are not thread-safe to mutate concurrently.
#ifndef TASKMASTER_STATUS_H_
#define TASKMASTER_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace taskmaster {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,
    kCorruption,       // bytes that fail a checksum or do not parse
    kInvalidArgument,  // bad user input; exit 2, never retried
    kIOError,          // the filesystem or a syscall failed
    kUnavailable,      // a store is down; transient, retry
    kTimeout,
    kFenced,           // a newer attempt owns the state; the write is a no-op
    kTooLarge,         // over a documented size limit
    kBusy,             // back-pressure or a lock held by someone else
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  // Builds an IOError from errno: "<context>: <strerror(err)>".
  static Status FromErrno(const std::string& context, int err);
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Timeout(std::string msg) { return Status(Code::kTimeout, std::move(msg)); }
  static Status Fenced(std::string msg) { return Status(Code::kFenced, std::move(msg)); }
  static Status TooLarge(std::string msg) { return Status(Code::kTooLarge, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsTimeout() const { return code_ == Code::kTimeout; }
  bool IsFenced() const { return code_ == Code::kFenced; }
  bool IsTooLarge() const { return code_ == Code::kTooLarge; }
  bool IsBusy() const { return code_ == Code::kBusy; }

  // "OK", or "<code name>: <message>".
  std::string ToString() const;
  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(const std::string& context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* StatusCodeName(Status::Code code);

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace taskmaster

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define TM_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::taskmaster::Status tm_status_ = (expr);     \
    if (!tm_status_.ok()) return tm_status_;      \
  } while (0)

#endif  // TASKMASTER_STATUS_H_
