// Trying a store or cache operation again after it failed transiently
// (IsTransient), with the delays of a Backoff (cache/backoff.h). Two kinds of
// loop share it:
//
//  - a loop that may wait in place (at start, while the store may still be
//    coming up): RetryTransient runs the operation, sleeping between
//    attempts, until it succeeds, fails in a way another attempt would not
//    change, the deadline passes or a stop is asked for;
//  - a loop that must not block (the flush loop, which also tails the
//    journal): it tells a RetrySchedule how each attempt went and tries again
//    once the next attempt is due.
//
// Not thread-safe: each retry loop owns its schedule.
#ifndef TASKMASTER_SIDECAR_RETRY_H_
#define TASKMASTER_SIDECAR_RETRY_H_

#include <chrono>
#include <cstdint>
#include <functional>

#include "cache/backoff.h"
#include "taskmaster/env.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// When the next attempt at a failed operation is due, on env's monotonic clock.
// `env` is not owned and must outlive the schedule.
class RetrySchedule {
 public:
  RetrySchedule(Env* env, Backoff backoff);

  // After a failure: the next attempt is due after the returned delay, the
  // backoff's next one.
  std::chrono::milliseconds Failed();
  // After a success: due at once, and the next failure waits briefly again.
  void Succeeded();

  // Env::MonotonicNanos() from which the next attempt is due (0 after a success).
  int64_t due_ns() const { return due_ns_; }
  bool Due() const { return env_->MonotonicNanos() >= due_ns_; }
  Env* env() const { return env_; }

 private:
  Env* env_;
  Backoff backoff_;
  int64_t due_ns_ = 0;
};

// What RetryTransient reports on the way; each may be empty.
struct RetryHooks {
  std::function<void(const Status&)> on_failure;  // every failed attempt (to count it)
  std::function<void(const Status&)> on_retry;    // a failure tried again (to log it)
  std::function<bool()> stop;                     // true: no further attempt
};

// Runs `attempt` until it succeeds (the schedule is told), or fails with a
// status that is not transient, or fails when `deadline_ns` (monotonic) has
// passed or hooks.stop() says so; between attempts it sleeps the schedule's
// delay, never past the deadline. Returns the last attempt's status.
Status RetryTransient(RetrySchedule* schedule, int64_t deadline_ns,
                      const std::function<Status()>& attempt, const RetryHooks& hooks = {});

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_RETRY_H_
