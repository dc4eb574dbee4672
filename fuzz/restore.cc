// The files the sidecar writes into the work dir for the step to read
// (protocol.h): restore/init.json, restore/shard.json, restore/summary.json,
// ready and ack, and the summaries of each role's outputs. Every input goes
// through every decoder; each value one accepts must round-trip.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "round_trip.h"
#include "taskmaster/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace pr = taskmaster::protocol;
  using taskmaster::fuzz::CheckRoundTrip;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  CheckRoundTrip(json, pr::DecodeInitRestore);
  CheckRoundTrip(json, pr::DecodeShardRestore);
  CheckRoundTrip(json, pr::DecodeWorkflowSummary);
  CheckRoundTrip(json, pr::DecodeReady);
  CheckRoundTrip(json, pr::DecodeAck);
  CheckRoundTrip(json, pr::DecodeInitSummary);
  CheckRoundTrip(json, pr::DecodeShardSummary);
  CheckRoundTrip(json, pr::DecodeFinalizeSummary);
  static_cast<void>(pr::DecodeShardList(json));
  return 0;
}
