// What every decoder target checks of a value it decoded: encoding it gives a
// text the same decoder accepts, and that decodes to the same encoding, so a
// record or restore file the program wrote itself is always read back.
#ifndef TASKMASTER_FUZZ_ROUND_TRIP_H_
#define TASKMASTER_FUZZ_ROUND_TRIP_H_

#include <cstdlib>
#include <string>
#include <string_view>

#include "taskmaster/protocol.h"
#include "taskmaster/status.h"

namespace taskmaster::fuzz {

// Decodes `json` with `decode` (a protocol::Decode* function); when that
// succeeds, aborts unless protocol::Encode of the value round-trips.
template <typename T>
void CheckRoundTrip(std::string_view json, Result<T> (*decode)(std::string_view)) {
  const Result<T> decoded = decode(json);
  if (!decoded.ok()) return;
  const std::string once = protocol::Encode(*decoded);
  const Result<T> again = decode(once);
  if (!again.ok() || protocol::Encode(*again) != once) std::abort();
}

}  // namespace taskmaster::fuzz

#endif  // TASKMASTER_FUZZ_ROUND_TRIP_H_
