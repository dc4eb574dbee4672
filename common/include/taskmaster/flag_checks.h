// The checks every flag and TM_* variable of tm-step and tm-sidecar goes
// through, as CLI11 validators: one definition of "a whole number", "a
// duration", "a non-empty path" for both programs. Each runs on the text as
// given (a flag's value or its environment variable) before CLI11 converts it,
// so a value either passes here or never reaches the program. A refusal reads
// like the task-list errors: the value, what is wrong, the accepted range in
// words; CLI11 prefixes the flag's name ("--batch-size: 0x10 is not a whole
// number between 1 and 1000000").
//
// The validators hold no state and are safe to copy and share.
#ifndef TASKMASTER_COMMON_FLAG_CHECKS_H_
#define TASKMASTER_COMMON_FLAG_CHECKS_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "taskmaster/status.h"

namespace taskmaster::checks {

// A decimal whole number from lo to hi: digits only (a leading '-' only when
// lo < 0). Refuses what CLI11 alone would read: 0x10, 010 as octal, 1e3, +5,
// " 4", and values that overflow.
CLI::Validator WholeNumber(int64_t lo, int64_t hi);

// A decimal number from lo to hi, fraction allowed (2.5), no exponent, sign,
// nan or inf.
CLI::Validator DecimalNumber(double lo, double hi);

// A finite duration from lo to hi seconds: plain seconds ("30", "0.5") or a
// number with a unit ("500ms", "90s", "5m", "2h", "7d"). The value becomes
// plain seconds, so the option stores a double of seconds.
CLI::Validator Duration(double lo_seconds, double hi_seconds);

// Anything but the empty string; `what` says what to give instead ("a
// directory", "a PostgreSQL DSN").
CLI::Validator NonEmpty(const std::string& what);

// One of `choices`, spelled exactly.
CLI::Validator OneOf(const std::vector<std::string>& choices);

// A workflow state key: 1-256 bytes of UTF-8 without control characters
// (task_list.h ValidateId).
CLI::Validator StateKey();

// The parsed seconds of a Duration text; InvalidArgument (with the words the
// validator prints) otherwise. For values that come from elsewhere than a flag.
Result<double> ParseDuration(const std::string& text, double lo_seconds, double hi_seconds);

// "0 s", "90 s", "5 minutes", "1 day", "7 days": a bound said in words.
std::string SecondsInWords(double seconds);

}  // namespace taskmaster::checks

#endif  // TASKMASTER_COMMON_FLAG_CHECKS_H_
