#include "api.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "api_request.h"
#include "cache/backoff.h"
#include "submission.h"
#include "task_json.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"
#include "workflow_progress.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

constexpr const char* kWorkflowsPrefix = "/api/workflows/";
constexpr const char* kSubmitPath = "/api/workflows/multi-task";
constexpr const char* kTaskInfix = "/tasks/";
// A Redis that failed is skipped for this long, so that requests do not each
// wait out its connect timeout.
constexpr int64_t kCacheRetryNanos = int64_t{2} * 1000 * 1000 * 1000;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A path segment with everything but RFC 3986's unreserved characters as %XX:
// Poco escapes controls, non-ASCII and unsafe characters by itself, and the
// delimiters named here.
std::string PercentEncode(const std::string& text) {
  std::string out;
  Poco::URI::encode(text, "!#$&'()*+,/:;=?@[]", out);
  return out;
}

ApiResponse Json(int status, std::string body) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

ApiResponse MethodNotAllowed(const std::string& method, const std::string& allow) {
  ApiResponse r = ApiError(405, "method " + method + " not allowed here; allowed: " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace

ApiResponse ApiError(int status, const std::string& message) {
  JsonWriter w;
  w.StartObject();
  w.Key("error").String(message);
  w.Key("status").Int(status);
  w.EndObject();
  return Json(status, w.Take());
}

Result<std::string> NewUuidV4() {
  try {
    return Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  } catch (const Poco::Exception& e) {
    return Status::IOError("random UUID: " + e.displayText());
  }
}

Api::Api(Env* env, StateStore* store, LiveCache* cache, Metrics* metrics, std::string store_name,
         KeySource new_key)
    : env_(env),
      store_(store),
      cache_(cache),
      metrics_(metrics),
      store_name_(std::move(store_name)),
      new_key_(std::move(new_key)) {}

ApiResponse Api::Handle(const std::string& method, const std::string& target,
                        const std::string& body) {
  const std::string path = target.substr(0, target.find('?'));
  const bool get = method == "GET" || method == "HEAD";
  if (path == kSubmitPath && method == "POST") return Submit(body);
  if (path.rfind(kWorkflowsPrefix, 0) != 0 || path.size() == std::strlen(kWorkflowsPrefix)) {
    return ApiError(404, "no such endpoint: " + path);
  }
  std::string rest = path.substr(std::strlen(kWorkflowsPrefix));
  enum class View { kState, kProgress, kFailed, kTasks, kTask } view = View::kState;
  for (const auto& [suffix, v] : {std::pair{"/progress", View::kProgress},
                                  {"/failed", View::kFailed},
                                  {"/tasks", View::kTasks}}) {
    if (EndsWith(rest, suffix)) {
      rest.resize(rest.size() - std::strlen(suffix));
      view = v;
      break;
    }
  }
  // <id>/tasks/<task>: both encoded, so the first "/tasks/" splits them.
  std::string task_segment;
  if (const size_t at = rest.find(kTaskInfix); view == View::kState && at != std::string::npos) {
    task_segment = rest.substr(at + std::strlen(kTaskInfix));
    rest.resize(at);
    view = View::kTask;
  }
  auto id = PercentDecode(rest);
  if (!id.ok()) return ApiError(400, id.status().message());
  if (Status s = ValidateId(*id, "workflow ID"); !s.ok()) return ApiError(400, s.message());
  if (!get) {
    // The submit path is also the state of a workflow called "multi-task".
    return MethodNotAllowed(method, path == kSubmitPath ? "GET, HEAD, POST" : "GET, HEAD");
  }
  std::optional<TaskQuery> query;
  std::string task_id;
  if (view == View::kTasks) {
    auto parsed = TaskQueryOf(target);
    if (!parsed.ok()) return ApiError(400, parsed.status().message());
    query = *parsed;
  } else if (view == View::kTask) {
    auto task = PercentDecode(task_segment);
    if (!task.ok()) return ApiError(400, task.status().message());
    if (Status s = ValidateId(*task, "task ID"); !s.ok()) return ApiError(400, s.message());
    task_id = std::move(task).value();
  }
  std::lock_guard<std::mutex> lock(mu_);
  switch (view) {
    case View::kProgress:
      return Progress(*id);
    case View::kFailed:
      return Failed(*id);
    case View::kTasks:
      return Tasks(*id, *query);
    case View::kTask:
      return Task(*id, task_id);
    case View::kState:
      break;
  }
  return Workflow(*id);
}

std::optional<WorkflowState> Api::LiveState(const std::string& id) {
  if (cache_ == nullptr || env_->MonotonicNanos() < cache_retry_at_ns_) return std::nullopt;
  auto held = cache_->Get(WorkflowStateKey(id));
  if (!held.ok()) {
    // Degraded, not failed: the store answers instead.
    if (!cache_degraded_) {
      spdlog::warn("redis read failed ({}); serving progress from the store",
                   held.status().message());
    }
    cache_degraded_ = true;
    cache_retry_at_ns_ = env_->MonotonicNanos() + kCacheRetryNanos;
    metrics_->store_errors_total("redis", StatusKind(held.status())).Inc();
    metrics_->store_up("redis").Set(0);
    return std::nullopt;
  }
  if (cache_degraded_) spdlog::info("redis answers again");
  cache_degraded_ = false;
  metrics_->store_up("redis").Set(1);
  if (!held->has_value()) return std::nullopt;
  auto state = WorkflowStateFromJson(**held);
  if (!state.ok() || state->workflow_id != id) {
    spdlog::warn("redis {} does not hold a workflow state of {}; reading the store",
                 WorkflowStateKey(id), id);
    metrics_->store_errors_total("redis", "corruption").Inc();
    return std::nullopt;
  }
  return std::move(state).value();
}

ApiResponse Api::StoreError(const Status& status) {
  metrics_->store_errors_total(store_name_, StatusKind(status)).Inc();
  if (IsTransient(status)) {
    metrics_->store_up(store_name_).Set(0);
    return ApiError(503, "store unavailable: " + status.message());
  }
  spdlog::error("store: {}", status.ToString());
  return ApiError(500, "store error: " + status.message());
}

ApiResponse Api::Progress(const std::string& id) {
  if (auto live = LiveState(id))
    return Json(200, ProgressJson(*live, env_->NowUnixMillis(), "redis"));
  auto state = store_->LoadWorkflowState(id);
  if (state.status().IsNotFound()) return ApiError(404, "workflow '" + id + "' not found");
  if (!state.ok()) return StoreError(state.status());
  metrics_->store_up(store_name_).Set(1);
  return Json(200, ProgressJson(*state, env_->NowUnixMillis(), "store"));
}

ApiResponse Api::Workflow(const std::string& id) {
  auto state = store_->LoadWorkflowState(id);
  if (state.status().IsNotFound()) return ApiError(404, "workflow '" + id + "' not found");
  if (!state.ok()) return StoreError(state.status());
  metrics_->store_up(store_name_).Set(1);
  return Json(200, WorkflowStateToJson(*state));
}

ApiResponse Api::Failed(const std::string& id) {
  auto summary = store_->LoadSummary(id);
  if (summary.status().IsNotFound()) return ApiError(404, "workflow '" + id + "' not found");
  if (!summary.ok()) return StoreError(summary.status());
  metrics_->store_up(store_name_).Set(1);
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(id);
  w.Key("failed_total").Int64(summary->failed_total);
  w.Key("failed").StartArray();
  for (const pr::FailedTask& task : summary->failed) {
    w.StartObject();
    w.Key("task_id").String(task.task_id);
    w.Key("exit_code").OptionalInt(task.exit_code);
    w.Key("error").String(task.error);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(200, w.Take());
}

ApiResponse Api::Tasks(const std::string& id, const TaskQuery& query) {
  auto page = store_->ListTasks(id, query);
  if (page.status().IsNotFound()) return ApiError(404, "workflow '" + id + "' not found");
  if (!page.ok()) return StoreError(page.status());
  metrics_->store_up(store_name_).Set(1);
  return Json(200, TaskPageJson(id, *page));
}

ApiResponse Api::Task(const std::string& id, const std::string& task_id) {
  auto history = store_->LoadTaskHistory(id, task_id);
  if (history.status().IsNotFound()) {
    // The store's message says which of the two is unknown.
    const std::string& why = history.status().message();
    return ApiError(404, why.find("has no task") != std::string::npos
                             ? "workflow '" + id + "' has no task '" + task_id + "'"
                             : "workflow '" + id + "' not found");
  }
  if (!history.ok()) return StoreError(history.status());
  metrics_->store_up(store_name_).Set(1);
  return Json(200, TaskHistoryJson(id, *history));
}

ApiResponse Api::Submit(const std::string& body) {
  auto request = ParseSubmitRequest(body);
  if (!request.ok()) return ApiError(400, request.status().message());
  if (request->state_key.empty()) {
    auto key = new_key_();
    if (!key.ok()) return ApiError(500, "cannot generate a state key: " + key.status().message());
    request->state_key = *key;
  }
  const std::string& key = request->state_key;
  const int64_t n = static_cast<int64_t>(request->ids.size());

  std::lock_guard<std::mutex> lock(mu_);
  // What tm-step init checks on a resume, checked first (DESIGN.md §9).
  auto outcome = RecordSubmission(env_, store_, cache_, metrics_,
                                  Submission{key, std::move(request->ids), request->batch_size});
  if (!outcome.ok()) return StoreError(outcome.status());
  switch (outcome->verdict) {
    case pr::ResumeVerdict::kOtherList:
      return ApiError(409, pr::OtherListMessage(key, outcome->recorded, outcome->list_hash, n) +
                               ": use a new state_key");
    case pr::ResumeVerdict::kOtherBatchSize:
      return ApiError(409, "state key " + key + " was recorded with batch_size " +
                               std::to_string(outcome->recorded.batch_size) + ", not " +
                               std::to_string(request->batch_size));
    case pr::ResumeVerdict::kResume:
      // Recorded whole: the same request again is answered with what is there.
      return Json(200, SubmissionJson(key, outcome->state.status, n, request->batch_size));
    case pr::ResumeVerdict::kRecordAgain:
    case pr::ResumeVerdict::kNew:
      break;
  }
  if (outcome->fenced) {
    return ApiError(409, "workflow " + key + " is being recorded by another request or init step");
  }
  metrics_->store_up(store_name_).Set(1);
  spdlog::info("Recorded workflow {}: {} tasks in {} shards of {}", key, n,
               pr::ShardCount(n, outcome->effective_batch_size), outcome->effective_batch_size);
  ApiResponse created =
      Json(201, SubmissionJson(key, outcome->state.status, n, request->batch_size));
  created.headers.emplace_back("Location", std::string(kWorkflowsPrefix) + PercentEncode(key));
  return created;
}

}  // namespace taskmaster::sidecar
