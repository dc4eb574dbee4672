// The state model (DESIGN.md §4): workflow and task records, their statuses, and
// the (fence, seq) pair every write is conditional on. Plain values; JSON round
// trips are exact (decode(encode(x)) == x). The model's JSON encodings live
// here, beside it, written with json.h, which knows no domain types.
#ifndef TASKMASTER_STATE_H_
#define TASKMASTER_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/status.h"

namespace taskmaster {

class FieldReader;  // json.h
class JsonWriter;   // json.h

enum class WorkflowStatus { kPending, kRunning, kSucceeded, kFailed };
// kQuarantined: failed the same way (error fingerprint) on --quarantine-after
// attempts in a row; final like a failure for good, but a resubmission leaves
// it alone until `tm-sidecar requeue --status quarantined` (docs/protocol.md,
// "Quarantine").
enum class TaskStatus {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kInterrupted,
  kCancelled,
  kQuarantined
};

const char* ToString(WorkflowStatus status);
const char* ToString(TaskStatus status);
Result<WorkflowStatus> ParseWorkflowStatus(std::string_view text);
Result<TaskStatus> ParseTaskStatus(std::string_view text);

// Whether a task in this state is done for the workflow's run: succeeded,
// cancelled, failed for good or quarantined. Nothing runs it again.
bool TaskIsDone(TaskStatus status, bool final);
// Whether it counts against the tolerated failures: failed for good or quarantined.
bool TaskFailedForGood(TaskStatus status, bool final);

// A write applies only if its pair is greater than the stored one (DESIGN.md §4).
struct FenceSeq {
  int64_t fence = 0;
  int64_t seq = 0;
  friend bool operator<(const FenceSeq& a, const FenceSeq& b) {
    return a.fence < b.fence || (a.fence == b.fence && a.seq < b.seq);
  }
  friend bool operator==(const FenceSeq& a, const FenceSeq& b) {
    return a.fence == b.fence && a.seq == b.seq;
  }
};

struct TaskState {
  std::string workflow_id;
  std::string task_id;
  int64_t ordinal = 0;  // 0-based position in the whole list
  TaskStatus status = TaskStatus::kPending;
  bool final = false;  // a failure on the shard's last attempt
  std::optional<int> exit_code;
  std::string error;
  int64_t attempts = 0;
  std::optional<int64_t> started_at_ms;
  std::optional<int64_t> finished_at_ms;
  int64_t generation = 0;  // checkpoints committed for this task
  FenceSeq applied;        // the pair of the last write that applied
  friend bool operator==(const TaskState& a, const TaskState& b);
};

// Counts derived from task rows, never incremented blindly. A failed task counts
// as `failed` only when its failure is final; otherwise it will run again and
// counts as `pending`, as does an interrupted task.
struct TaskCounts {
  int64_t total = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t running = 0;
  int64_t pending = 0;
  int64_t cancelled = 0;
  void Add(TaskStatus status, bool final);
  friend bool operator==(const TaskCounts& a, const TaskCounts& b);
};

// The workflow's status from its counts: failed when any task failed for good
// or was cancelled and nothing is left to run, succeeded when every task
// succeeded, running when some task ran, else pending.
WorkflowStatus DeriveWorkflowStatus(const TaskCounts& counts, bool any_started);

// The failure budget a workflow's steps were given (docs/protocol.md, "Failure
// budget"), as the last step that ran recorded it: a shard records all of it,
// finalize only the tolerated failures (it has no --task-retries), which keep
// the recorded values of the rest.
struct FailureBudget {
  int64_t max_failures = 0;
  double max_failure_percent = 0;       // of the whole list, 0..100
  std::optional<int64_t> task_retries;  // nullopt: no shard recorded it yet
  std::optional<int64_t> quarantine_after;
  friend bool operator==(const FailureBudget& a, const FailureBudget& b);
};
// The budget's members (max_failures, max_failure_percent, task_retries,
// quarantine_after; null for an absent one) into an open object, and back: the
// workflow state's "budget" and the budget journal record share them.
void WriteFailureBudget(const FailureBudget& budget, JsonWriter* w);
FailureBudget ReadFailureBudget(FieldReader* in);

// The value of Redis `workflow:state:<key>` and of the `workflow_states` row
// (DESIGN.md §9). `version` grows with each write.
struct WorkflowState {
  std::string workflow_id;
  WorkflowStatus status = WorkflowStatus::kPending;
  TaskCounts counts;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t version = 0;
  std::optional<FailureBudget> budget;  // nullopt: no step recorded one (schema < 5)
  friend bool operator==(const WorkflowState& a, const WorkflowState& b);
};

// Compact JSON with keys in the documented order; times are RFC 3339 UTC with
// milliseconds. The workflow state has "budget" (an object, after "version")
// only when one is recorded, so a state without one reads as it always did.
std::string WorkflowStateToJson(const WorkflowState& state);
Result<WorkflowState> WorkflowStateFromJson(std::string_view json);
std::string TaskStateToJson(const TaskState& state);
Result<TaskState> TaskStateFromJson(std::string_view json);

// The members of TaskCounts, in declaration order, as written into an object
// (the workflow state flat, the workflow summary under "counts").
void WriteTaskCounts(const TaskCounts& counts, JsonWriter* out);
TaskCounts ReadTaskCounts(FieldReader* in);

}  // namespace taskmaster

#endif  // TASKMASTER_STATE_H_
