// The HTTP API of `tm-sidecar api` (DESIGN.md §7), apart from the transport:
// http_server.cc hands it a method, a request target and a body it has already
// bounded, and sends back what it returns. Every answer is JSON; every error is
// {"error": "...", "status": N}.
//
//   GET  /api/workflows/<id>/progress  counts, done, percent, rate, ETA; Redis
//                                      `workflow:state:<id>` first when configured
//                                      (the live view), else the store
//   GET  /api/workflows/<id>           the workflow state (WorkflowStateToJson)
//   GET  /api/workflows/<id>/failed    the first 100 final failures, failed_total
//   GET  /api/workflows/<id>/tasks?status=S&limit=N&after=ORDINAL
//                                      a keyset page of tasks in ordinal order
//                                      (task_json.h); 400 for a bad parameter
//   GET  /api/workflows/<id>/tasks/<task>
//                                      the task and its kept attempts; 404
//                                      naming the workflow or the task
//   POST /api/workflows/multi-task     {"task_list": [...], "batch_size": N?,
//                                      "state_key": "..."?}: records the list in
//                                      the store (submission.h), so the Argo
//                                      workflow submitted with only that state
//                                      key runs it; the answer's "submit" is
//                                      that `argo submit ... -p state-key=K`.
//                                      201 recorded, 200 already recorded, 409
//                                      another list (both hashes named) or batch
//                                      size under the key: nothing written
//
// <id> and <task> are percent-decoded; a state key or task ID holding '/' is
// sent as %2F.
//
// Thread-safe: the HTTP server calls Handle from several threads; the store and
// the cache (each for one thread at a time) are used under one mutex.
#ifndef TASKMASTER_SIDECAR_API_H_
#define TASKMASTER_SIDECAR_API_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache/live_cache.h"
#include "metrics.h"
#include "store/state_store.h"
#include "taskmaster/env.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// The default bound on request bodies (`tm-sidecar api --max-body-bytes`): a body
// declared or decoded over it is refused (413) without being handled.
inline constexpr size_t kMaxApiBodyBytes = size_t{64} << 20;

struct ApiResponse {
  int status = 200;
  std::string body;                                          // JSON, without a trailing newline
  std::vector<std::pair<std::string, std::string>> headers;  // Allow, Location
};

// {"error": message, "status": status}.
ApiResponse ApiError(int status, const std::string& message);

// A random UUID v4 in RFC 4122 text form (Poco's UUIDGenerator); IOError when
// no random bytes can be had.
Result<std::string> NewUuidV4();

class Api {
 public:
  using KeySource = std::function<Result<std::string>()>;

  // cache may be null (no Redis configured). None is owned; all outlive the Api.
  Api(Env* env, StateStore* store, LiveCache* cache, Metrics* metrics, std::string store_name,
      KeySource new_key = NewUuidV4);

  // `target` is the request target as sent (percent-encoded, maybe with a
  // query, which only .../tasks reads). Only paths under /api/ come here.
  ApiResponse Handle(const std::string& method, const std::string& target, const std::string& body);

 private:
  ApiResponse Progress(const std::string& id);
  ApiResponse Workflow(const std::string& id);
  ApiResponse Failed(const std::string& id);
  ApiResponse Tasks(const std::string& id, const TaskQuery& query);
  ApiResponse Task(const std::string& id, const std::string& task_id);
  ApiResponse Submit(const std::string& body);
  // The live state from Redis when it holds one; nullopt to read the store.
  std::optional<WorkflowState> LiveState(const std::string& id);
  // A store failure as a response (503 when it may pass, else 500), counted.
  ApiResponse StoreError(const Status& status);

  Env* env_;
  StateStore* store_;
  LiveCache* cache_;
  Metrics* metrics_;
  std::string store_name_;
  KeySource new_key_;
  std::mutex mu_;
  bool cache_degraded_ = false;    // under mu_: warned once per outage
  int64_t cache_retry_at_ns_ = 0;  // under mu_: Redis is skipped until then
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_API_H_
