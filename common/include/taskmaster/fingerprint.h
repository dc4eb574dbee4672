// The fingerprint of a failed attempt (docs/protocol.md, "Quarantine"): its exit
// code and its last error line with what changes from one attempt to the next
// (times, numbers, addresses, paths, IDs) collapsed, so that a task failing the
// same way every time has the same fingerprint every time. Pure functions;
// tm-step decides quarantine with them and the stores keep their result.
#ifndef TASKMASTER_FINGERPRINT_H_
#define TASKMASTER_FINGERPRINT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace taskmaster {

// Bytes of a normalised line kept; the rest is cut at a UTF-8 boundary.
inline constexpr size_t kMaxNormalizedErrorBytes = 256;

// The last line of `error` that is not blank, normalised, in this order:
// RFC 3339 / ISO 8601 times (date, 'T' or space, time, fraction, zone) become
// <time>; UUIDs <uuid>; 0x-prefixed hex and runs of 8 or more hex digits
// holding a digit <hex>; absolute paths (a '/' and what follows up to a space
// or quote) <path>; decimal numbers (with sign, fraction) <n>; runs of
// whitespace one space, none at either end. Empty when every line is blank.
std::string NormalizeErrorLine(std::string_view error);

// "<exit code>:<NormalizeErrorLine(error)>", the exit code "-" when there is none.
std::string ErrorFingerprint(const std::optional<int>& exit_code, std::string_view error);

}  // namespace taskmaster

#endif  // TASKMASTER_FINGERPRINT_H_
