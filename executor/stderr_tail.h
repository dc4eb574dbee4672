// A task's stderr as tm-step sees it when TaskSpec::capture_stderr_tail is set:
// the child writes to a pipe, StderrTail forwards every byte unchanged to where
// stderr would have gone (the pod's log, or the task's log file in local mode)
// and keeps the last line that is not blank, which becomes the end of a failed
// attempt's `error` ("exited with code 1: connection refused to db:5432"), and so
// of its fingerprint (fingerprint.h).
//
// Not thread-safe; the task runner's poll loop drives it.
#ifndef TASKMASTER_EXECUTOR_STDERR_TAIL_H_
#define TASKMASTER_EXECUTOR_STDERR_TAIL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "task_process.h"

namespace taskmaster::step {

// Bytes of the last stderr line kept in an error; the rest is cut at a UTF-8 boundary.
inline constexpr size_t kMaxStderrLineBytes = 512;

// The last line that is not blank of a byte stream fed in pieces, in bounded
// memory: only the first bytes of each line are kept, so a task printing
// megabytes without a newline costs nothing more. Lines end at '\n'; the last
// one need not. Pure: no I/O.
class LastStderrLine {
 public:
  void Feed(std::string_view bytes);
  // The line trimmed of whitespace (spaces, tabs, CR) at both ends, invalid
  // UTF-8 replaced by U+FFFD, at most kMaxStderrLineBytes bytes cut at a UTF-8
  // boundary. Empty when every line was blank.
  std::string Get() const;

 private:
  // A UTF-8 sequence is at most 4 bytes: keeping that many more than the bound
  // decides whether the character at the bound is whole.
  static constexpr size_t kKeptBytes = kMaxStderrLineBytes + 4;

  std::string line_;  // the line being written, from its first non-blank byte
  std::string last_;  // the last whole line that was not blank
};

// Reads the process's stderr pipe (TaskProcess::stderr_fd()) without blocking,
// forwards what it read to TaskProcess::stderr_destination_fd(), and feeds a
// LastStderrLine. Borrows the process, which must outlive it.
class StderrTail {
 public:
  explicit StderrTail(TaskProcess* process) : process_(process) {}
  StderrTail(const StderrTail&) = delete;
  StderrTail& operator=(const StderrTail&) = delete;

  // Reads what is in the pipe now, at most kMaxReadBytes so that a chatty task
  // (or its background child, once the task is gone) cannot hold up the poll
  // loop; at end of stream closes the process's stderr_fd(). A write to the
  // destination that fails (a closed stderr, a full disk) loses those bytes and
  // is logged once; the task goes on and its last line is still kept.
  void Read();

  std::string LastLine() const { return last_line_.Get(); }

  // Bytes one Read() takes at most: a Linux pipe's default capacity.
  static constexpr size_t kMaxReadBytes = 64 << 10;

 private:
  void Forward(std::string_view bytes);

  TaskProcess* process_;
  LastStderrLine last_line_;
  bool warned_ = false;
};

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_STDERR_TAIL_H_
