// The HTTP API's request parsing (sidecar/api_request.h), without the server:
// the input is tried as a percent-encoded path segment, as the query string of
// GET .../tasks (with and without a path before it) and as the JSON body of
// POST /api/workflows/multi-task. What a parser accepts must hold its promises.
#include "api_request.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "taskmaster/task_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace sc = taskmaster::sidecar;
  const std::string text(reinterpret_cast<const char*>(data), size);

  static_cast<void>(sc::PercentDecode(text));
  for (const std::string& target : {text, "/api/workflows/w/tasks?" + text}) {
    const auto query = sc::TaskQueryOf(target);
    if (query.ok() && query->limit < 1) std::abort();
  }
  const auto request = sc::ParseSubmitRequest(text);
  if (request.ok()) {
    if (request->ids.empty() || request->batch_size < 1) std::abort();
    if (!request->state_key.empty() && !taskmaster::ValidateId(request->state_key, "").ok()) {
      std::abort();
    }
    for (const std::string& id : request->ids) {
      if (!taskmaster::ValidateId(id, "").ok()) std::abort();
    }
  }
  return 0;
}
