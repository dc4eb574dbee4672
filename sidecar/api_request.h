// The parts of an HTTP API request that come from outside (api.h), parsed
// apart from the transport and the store: the percent-encoded path segments,
// the query string of GET .../tasks and the body of
// POST /api/workflows/multi-task. Pure functions of their text, reentrant, so
// that they can be fuzzed alone (fuzz/api_request.cc). Each error is an
// InvalidArgument whose message is the 400 answer's.
#ifndef TASKMASTER_SIDECAR_API_REQUEST_H_
#define TASKMASTER_SIDECAR_API_REQUEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "store/task_reads.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// %XX decoding of a path segment; the error names the byte of the first escape
// without two hex digits.
Result<std::string> PercentDecode(const std::string& text);

// The page query of GET .../tasks from the request target's query string:
// status, limit and after, each at most once; anything else is refused.
Result<TaskQuery> TaskQueryOf(const std::string& target);

// The submit request's fields, validated: the task list as tm-step parses
// --task-list, a batch size of at least 1, a state key that passed ValidateId.
struct SubmitRequest {
  std::vector<std::string> ids;
  int64_t batch_size = 1;
  std::string state_key;  // empty: generate one
};
Result<SubmitRequest> ParseSubmitRequest(const std::string& body);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_API_REQUEST_H_
