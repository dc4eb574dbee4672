// Values read back from Redis (sidecar/cache/live_cache.h): the bytes of a
// reply as they come off the socket, read by hiredis into replies as the live
// cache reads them, and the workflow state a string reply holds
// (workflow:state:<key>, which GET /api/workflows/<id>/progress serves). The
// input is also decoded as that JSON directly. A state that decodes must
// round-trip through WorkflowStateToJson.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "taskmaster/state.h"

namespace {

void DecodeState(std::string_view json) {
  const auto state = taskmaster::WorkflowStateFromJson(json);
  if (!state.ok()) return;
  const std::string once = taskmaster::WorkflowStateToJson(*state);
  const auto again = taskmaster::WorkflowStateFromJson(once);
  if (!again.ok() || taskmaster::WorkflowStateToJson(*again) != once) std::abort();
}

// Every string of a reply, depth first.
void DecodeReply(const redisReply& reply) {
  if (reply.type == REDIS_REPLY_STRING || reply.type == REDIS_REPLY_STATUS) {
    DecodeState(std::string_view(reply.str, reply.len));
  } else if (reply.type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < reply.elements; ++i) DecodeReply(*reply.element[i]);
  }
}

// hiredis 0.14 allocates an array reply's element pointers as soon as it reads
// the header, for as many as the server declares ("*776666663" is 6 GB): a
// Redis server is trusted that far. Inputs declaring more than 9 999 999
// elements are left out of the reply stage.
bool DeclaresHugeArray(std::string_view bytes) {
  for (size_t at = bytes.find('*'); at != std::string_view::npos; at = bytes.find('*', at + 1)) {
    const size_t digits = bytes.find_first_not_of("0123456789", at + 1);
    if ((digits == std::string_view::npos ? bytes.size() : digits) - (at + 1) > 7) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  DecodeState(bytes);
  if (DeclaresHugeArray(bytes)) return 0;
  redisReader* reader = redisReaderCreate();
  if (reader == nullptr) return 0;
  if (redisReaderFeed(reader, reinterpret_cast<const char*>(data), size) == REDIS_OK) {
    void* reply = nullptr;
    while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != nullptr) {
      DecodeReply(*static_cast<redisReply*>(reply));
      freeReplyObject(reply);
      reply = nullptr;
    }
  }
  redisReaderFree(reader);
  return 0;
}
