// Backoff: how long to wait before the next attempt at a store or the cache
// that failed transiently. Exponential with full jitter: the n-th delay since
// the last success is uniform in [0, min(max, initial * 2^n)), so sidecars that
// lost Redis or PostgreSQL at the same moment do not come back in lock step.
// The random source is a parameter so tests pin it (the Envoy model).
//
// Only transient failures are worth another attempt (IsTransient); the caller
// decides, and calls Reset() after a success.
//
// A Backoff is a plain value, not thread-safe; each retry loop owns one.
#ifndef TASKMASTER_SIDECAR_CACHE_BACKOFF_H_
#define TASKMASTER_SIDECAR_CACHE_BACKOFF_H_

#include <chrono>
#include <cstdint>
#include <functional>

#include "taskmaster/status.h"

namespace taskmaster::sidecar {

class Backoff {
 public:
  // Returns a number uniformly distributed in [0, 1).
  using RandomSource = std::function<double()>;

  // Requires 0 < initial <= max. `random` is called once per NextDelay().
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, RandomSource random);

  // The delay before the next attempt; each call doubles the ceiling, up to max.
  std::chrono::milliseconds NextDelay();
  // After a success: the next delay is drawn below `initial` again.
  void Reset();

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  RandomSource random_;
  std::chrono::milliseconds ceiling_;  // the bound of the next delay
};

// A source for production: a Mersenne Twister seeded from std::random_device,
// owned by the returned function.
Backoff::RandomSource DefaultRandomSource();

// Whether another attempt may succeed: true for Unavailable, Timeout, IOError
// and Busy (a lock or back-pressure that will clear); false for OK and for
// everything that would fail the same way again (InvalidArgument, Corruption,
// Fenced, NotFound, TooLarge).
bool IsTransient(const Status& status);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_CACHE_BACKOFF_H_
