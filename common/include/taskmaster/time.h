// Times as text: RFC 3339 (the profile of ISO 8601 that JSON documents use)
// for Unix times in milliseconds. Dates are proleptic Gregorian and computed
// with integer arithmetic, never timegm, TZ or the locale, so results do not
// depend on the host. Only upper-case "T" and "Z" are accepted, and a leap
// second (":60") is refused: it has no Unix time of its own. Pure functions:
// thread-safe.
#ifndef TASKMASTER_TIME_H_
#define TASKMASTER_TIME_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "taskmaster/status.h"

namespace taskmaster {

// "2026-11-29T00:28:02.123Z": UTC with exactly three fraction digits, the form
// of every time Taskmaster writes (state, records, checkpoints, log lines).
std::string FormatRfc3339Millis(int64_t unix_ms);

// Exactly the form FormatRfc3339Millis writes and nothing else, so an instant
// has one spelling (a checkpoint is compared with its re-encoding byte for
// byte). InvalidArgument names the problem:
//   "'2026-13-01T00:00:00.000Z' is not an RFC 3339 UTC time with milliseconds
//    (month out of range; like 2026-11-29T00:28:02.123Z)"
Result<int64_t> ParseRfc3339Millis(std::string_view text);

// Any RFC 3339 date-time (section 5.6), as Unix ms: "2026-11-29T00:28:02Z",
// with an optional fraction of a second of any length (truncated to
// milliseconds) and "Z" or a "+hh:mm" / "-hh:mm" offset (hh 00..23, mm 00..59).
// This is what Go's time.RFC3339 and RFC3339Nano write (Argo's ARGO_DEADLINE).
Result<int64_t> ParseRfc3339(std::string_view text);

}  // namespace taskmaster

#endif  // TASKMASTER_TIME_H_
