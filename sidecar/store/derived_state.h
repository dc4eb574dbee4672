// What both stores derive from their rows the same way: workflow counts from
// GROUP BY groups, the workflow status, which stored checkpoint document a
// restore hands to the step, and how a row problem is worded.
#ifndef TASKMASTER_SIDECAR_STORE_DERIVED_STATE_H_
#define TASKMASTER_SIDECAR_STORE_DERIVED_STATE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/state_store.h"
#include "taskmaster/state.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// Adds `n` tasks of one (status, final) group by the rules of TaskCounts::Add.
void AddTaskGroup(TaskStatus status, bool final, int64_t n, TaskCounts* counts);

// The workflow's status after a write: what finalize set, once it has run,
// else DeriveWorkflowStatus. `any_started`: some task has an attempt recorded.
WorkflowStatus WorkflowStatusAfterWrite(const TaskCounts& counts, bool any_started,
                                        const std::optional<WorkflowStatus>& finalized);

// Requeue (state_store.h) refuses a workflow that still has tasks to run
// unless forced: the InvalidArgument saying so, else OK.
Status RequeueRefusal(const WorkflowState& state, bool force);
// What requeue takes, in words: "failed for good", "quarantined", or with no
// status "failed for good or quarantined".
const char* RequeueableTasks(const std::optional<TaskStatus>& status);

// What each store does for Requeue, inside its write transaction, in its own
// SQL; RequeueInTransaction is the order both take them in.
struct RequeueSteps {
  std::function<Result<std::optional<WorkflowState>>()> read_state;
  // The task's ordinal once it is pending again; nullopt when it is not in the
  // status asked for (or unknown).
  std::function<Result<std::optional<int64_t>>(const std::string& task_id)> requeue_task;
  // The ordinals of every task in the status asked for, pending again.
  std::function<Result<std::vector<int64_t>>()> requeue_all;
  // The workflow no longer finished, its counts derived again for `ordinals`.
  std::function<Status(const std::vector<int64_t>& ordinals)> reopen;
};
// Reads the workflow (NotFound when never initialized), refuses it as
// RequeueRefusal says, requeues the listed tasks (InvalidArgument naming the
// first that is not requeueable: the caller's transaction rolls back) or all of
// them, and reopens the workflow when any was requeued.
Status RequeueInTransaction(const std::string& workflow_id, const RequeueRequest& request,
                            const RequeueSteps& steps, RequeueResult* result);

// A task's checkpoint row.
struct StoredCheckpoint {
  int64_t generation = 0;
  std::string document;
  int64_t backup_generation = 0;  // 0: no backup
  std::optional<std::string> backup_document;
};

struct RestoreDocument {
  int64_t generation = 0;
  std::string document;
};

// The document a restore hands out: the current one when it verifies (checksum,
// workflow, task and generation all match its row), else the backup when that
// verifies (logged at warning), else the current one as it is: the sidecar
// verifies what it restores and starts a task over whose document is corrupt,
// and counts it.
RestoreDocument ChooseRestoreDocument(const std::string& workflow_id, const std::string& task_id,
                                      const StoredCheckpoint& stored);

// The InvalidArgument for a record whose task is not in the workflow (or not
// at that ordinal). `task_id` is empty for records that carry only an ordinal.
Status MissingTask(const std::string& workflow_id, const char* record, int64_t seq, int64_t ordinal,
                   const std::string& task_id);

// A value parsed from a stored column (a status name): a failure means the
// database holds what no store writes, so it is Corruption naming the column.
template <typename T>
Result<T> ParseStored(Result<T> parsed, const char* column) {
  if (parsed.ok()) return parsed;
  return Status::Corruption(std::string("stored ") + column + ": " + parsed.status().message());
}

// An exit_code column (NULL: none).
std::optional<int> ExitCodeFromColumn(const std::optional<int64_t>& value);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_DERIVED_STATE_H_
