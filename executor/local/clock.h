// Units of the monotonic clock local mode runs on (Env::MonotonicNanos).
#ifndef TASKMASTER_EXECUTOR_LOCAL_CLOCK_H_
#define TASKMASTER_EXECUTOR_LOCAL_CLOCK_H_

#include <cstdint>
#include <limits>

namespace taskmaster::step::local {

inline constexpr int64_t kMilli = 1000000;
inline constexpr int64_t kSecond = 1000000000;
// A deadline that never comes: wait for an event alone.
inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_CLOCK_H_
