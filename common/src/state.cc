#include "taskmaster/state.h"

#include <tuple>

#include "taskmaster/json.h"

namespace taskmaster {

const char* ToString(WorkflowStatus status) {
  switch (status) {
    case WorkflowStatus::kPending:
      return "pending";
    case WorkflowStatus::kRunning:
      return "running";
    case WorkflowStatus::kSucceeded:
      return "succeeded";
    case WorkflowStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

const char* ToString(TaskStatus status) {
  switch (status) {
    case TaskStatus::kPending:
      return "pending";
    case TaskStatus::kRunning:
      return "running";
    case TaskStatus::kSucceeded:
      return "succeeded";
    case TaskStatus::kFailed:
      return "failed";
    case TaskStatus::kInterrupted:
      return "interrupted";
    case TaskStatus::kCancelled:
      return "cancelled";
    case TaskStatus::kQuarantined:
      return "quarantined";
  }
  return "unknown";
}

Result<WorkflowStatus> ParseWorkflowStatus(std::string_view text) {
  for (WorkflowStatus s : {WorkflowStatus::kPending, WorkflowStatus::kRunning,
                           WorkflowStatus::kSucceeded, WorkflowStatus::kFailed}) {
    if (text == ToString(s)) return s;
  }
  return Status::InvalidArgument("unknown workflow status '" + std::string(text) +
                                 "' (expected pending, running, succeeded or failed)");
}

Result<TaskStatus> ParseTaskStatus(std::string_view text) {
  for (TaskStatus s :
       {TaskStatus::kPending, TaskStatus::kRunning, TaskStatus::kSucceeded, TaskStatus::kFailed,
        TaskStatus::kInterrupted, TaskStatus::kCancelled, TaskStatus::kQuarantined}) {
    if (text == ToString(s)) return s;
  }
  return Status::InvalidArgument(
      "unknown task status '" + std::string(text) +
      "' (expected pending, running, succeeded, failed, interrupted, cancelled or quarantined)");
}

bool TaskFailedForGood(TaskStatus status, bool final) {
  return status == TaskStatus::kQuarantined || (status == TaskStatus::kFailed && final);
}

bool TaskIsDone(TaskStatus status, bool final) {
  return status == TaskStatus::kSucceeded || status == TaskStatus::kCancelled ||
         TaskFailedForGood(status, final);
}

bool operator==(const TaskState& a, const TaskState& b) {
  return std::tie(a.workflow_id, a.task_id, a.ordinal, a.status, a.final, a.exit_code, a.error,
                  a.attempts, a.started_at_ms, a.finished_at_ms, a.generation, a.applied) ==
         std::tie(b.workflow_id, b.task_id, b.ordinal, b.status, b.final, b.exit_code, b.error,
                  b.attempts, b.started_at_ms, b.finished_at_ms, b.generation, b.applied);
}

bool operator==(const TaskCounts& a, const TaskCounts& b) {
  return std::tie(a.total, a.succeeded, a.failed, a.running, a.pending, a.cancelled) ==
         std::tie(b.total, b.succeeded, b.failed, b.running, b.pending, b.cancelled);
}

bool operator==(const FailureBudget& a, const FailureBudget& b) {
  return std::tie(a.max_failures, a.max_failure_percent, a.task_retries, a.quarantine_after) ==
         std::tie(b.max_failures, b.max_failure_percent, b.task_retries, b.quarantine_after);
}

bool operator==(const WorkflowState& a, const WorkflowState& b) {
  return std::tie(a.workflow_id, a.status, a.counts, a.created_at_ms, a.updated_at_ms, a.version,
                  a.budget) == std::tie(b.workflow_id, b.status, b.counts, b.created_at_ms,
                                        b.updated_at_ms, b.version, b.budget);
}

void TaskCounts::Add(TaskStatus status, bool final) {
  ++total;
  switch (status) {
    case TaskStatus::kSucceeded:
      ++succeeded;
      break;
    case TaskStatus::kRunning:
      ++running;
      break;
    case TaskStatus::kCancelled:
      ++cancelled;
      break;
    // Quarantined: failed for good, until someone requeues it.
    case TaskStatus::kQuarantined:
      ++failed;
      break;
    // A failure that is not final runs again on the next attempt, and so does an
    // interrupted task: both are still to do.
    case TaskStatus::kFailed:
      if (final) {
        ++failed;
      } else {
        ++pending;
      }
      break;
    case TaskStatus::kInterrupted:
    case TaskStatus::kPending:
      ++pending;
      break;
  }
}

WorkflowStatus DeriveWorkflowStatus(const TaskCounts& counts, bool any_started) {
  // No task rows yet: the list is not recorded, nothing can have happened.
  if (counts.total == 0) return WorkflowStatus::kPending;
  const bool nothing_left = counts.running == 0 && counts.pending == 0;
  if (nothing_left && (counts.failed > 0 || counts.cancelled > 0)) return WorkflowStatus::kFailed;
  if (counts.succeeded == counts.total) return WorkflowStatus::kSucceeded;
  // A task that reached any state but pending ran (cancelled ones count: the run
  // got far enough to cancel them); any_started covers tasks that ran and are
  // pending again (interrupted, or a failure that will be retried).
  const bool ran = any_started || counts.running > 0 || counts.succeeded > 0 || counts.failed > 0 ||
                   counts.cancelled > 0;
  return ran ? WorkflowStatus::kRunning : WorkflowStatus::kPending;
}

void WriteTaskCounts(const TaskCounts& counts, JsonWriter* out) {
  out->Key("total").Int64(counts.total);
  out->Key("succeeded").Int64(counts.succeeded);
  out->Key("failed").Int64(counts.failed);
  out->Key("running").Int64(counts.running);
  out->Key("pending").Int64(counts.pending);
  out->Key("cancelled").Int64(counts.cancelled);
}

TaskCounts ReadTaskCounts(FieldReader* in) {
  TaskCounts counts;
  counts.total = in->Int64("total");
  counts.succeeded = in->Int64("succeeded");
  counts.failed = in->Int64("failed");
  counts.running = in->Int64("running");
  counts.pending = in->Int64("pending");
  counts.cancelled = in->Int64("cancelled");
  return counts;
}

// The encoders and decoders below list the fields one by one, in the order of
// the JSON (tests/golden/workflow-state.json), like protocol.cc's; they look
// alike on purpose, their shape is the format.
namespace {

// A whole-number member that may be null, as int64.
std::optional<int64_t> OptionalCount(FieldReader* in, const char* name) {
  std::optional<int> value = in->OptionalInt(name);
  if (!value) return std::nullopt;
  return *value;
}

void WriteOptionalCount(const std::optional<int64_t>& value, JsonWriter* w) {
  if (value) {
    w->Int64(*value);
  } else {
    w->Null();
  }
}

}  // namespace

void WriteFailureBudget(const FailureBudget& budget, JsonWriter* w) {
  w->Key("max_failures").Int64(budget.max_failures);
  w->Key("max_failure_percent").Double(budget.max_failure_percent);
  w->Key("task_retries");
  WriteOptionalCount(budget.task_retries, w);
  w->Key("quarantine_after");
  WriteOptionalCount(budget.quarantine_after, w);
}

FailureBudget ReadFailureBudget(FieldReader* in) {
  FailureBudget b;
  b.max_failures = in->Int64("max_failures");
  b.max_failure_percent = in->Double("max_failure_percent");
  b.task_retries = OptionalCount(in, "task_retries");
  b.quarantine_after = OptionalCount(in, "quarantine_after");
  return b;
}

std::string WorkflowStateToJson(const WorkflowState& state) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(state.workflow_id);
  w.Key("status").String(ToString(state.status));
  WriteTaskCounts(state.counts, &w);
  w.Key("created_at").Time(state.created_at_ms);
  w.Key("updated_at").Time(state.updated_at_ms);
  w.Key("version").Int64(state.version);
  if (state.budget) {
    w.Key("budget").StartObject();
    WriteFailureBudget(*state.budget, &w);
    w.EndObject();
  }
  w.EndObject();
  return w.Take();
}

namespace {

// The "budget" member of a workflow state, or nullopt when it has none.
std::optional<FailureBudget> ReadBudgetMember(FieldReader* in) {
  if (!in->Has("budget")) return std::nullopt;
  const rapidjson::Value* budget = in->Object("budget");
  if (budget == nullptr) return std::nullopt;
  FieldReader b(*budget, "workflow state", "budget.");
  std::optional<FailureBudget> read = ReadFailureBudget(&b);
  in->Merge(b.status());
  return read;
}

}  // namespace

Result<WorkflowState> WorkflowStateFromJson(std::string_view json) {
  return ReadJsonObject<WorkflowState>(json, "workflow state", [](FieldReader& in) {
    WorkflowState s;
    s.workflow_id = in.String("workflow_id");
    s.status = in.Enum<WorkflowStatus>("status", ParseWorkflowStatus);
    s.counts = ReadTaskCounts(&in);
    s.created_at_ms = in.Time("created_at");
    s.updated_at_ms = in.Time("updated_at");
    s.version = in.Int64("version");
    s.budget = ReadBudgetMember(&in);
    return s;
  });
}

std::string TaskStateToJson(const TaskState& state) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(state.workflow_id);
  w.Key("task_id").String(state.task_id);
  w.Key("ordinal").Int64(state.ordinal);
  w.Key("status").String(ToString(state.status));
  w.Key("final").Bool(state.final);
  w.Key("exit_code").OptionalInt(state.exit_code);
  w.Key("error").String(state.error);
  w.Key("attempts").Int64(state.attempts);
  w.Key("started_at").OptionalTime(state.started_at_ms);
  w.Key("finished_at").OptionalTime(state.finished_at_ms);
  w.Key("generation").Int64(state.generation);
  w.Key("fence").Int64(state.applied.fence);
  w.Key("seq").Int64(state.applied.seq);
  w.EndObject();
  return w.Take();
}

Result<TaskState> TaskStateFromJson(std::string_view json) {
  return ReadJsonObject<TaskState>(json, "task state", [](FieldReader& in) {
    TaskState s;
    s.workflow_id = in.String("workflow_id");
    s.task_id = in.String("task_id");
    s.ordinal = in.Int64("ordinal");
    s.status = in.Enum<TaskStatus>("status", ParseTaskStatus);
    s.final = in.Bool("final");
    s.exit_code = in.OptionalInt("exit_code");
    s.error = in.String("error");
    s.attempts = in.Int64("attempts");
    s.started_at_ms = in.OptionalTime("started_at");
    s.finished_at_ms = in.OptionalTime("finished_at");
    s.generation = in.Int64("generation");
    s.applied.fence = in.Int64("fence");
    s.applied.seq = in.Int64("seq");
    return s;
  });
}

}  // namespace taskmaster
