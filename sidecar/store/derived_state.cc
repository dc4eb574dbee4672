#include "store/derived_state.h"

#include <spdlog/spdlog.h>

#include "taskmaster/checkpoint.h"

namespace taskmaster::sidecar {
namespace {

// OK when the document verifies and belongs to this task at this generation.
Status VerifyStored(const std::string& workflow_id, const std::string& task_id, int64_t generation,
                    const std::string& document) {
  Result<Checkpoint> checkpoint = VerifyCheckpoint(document);
  if (!checkpoint.ok()) return checkpoint.status();
  const CheckpointFields& f = checkpoint->fields;
  if (f.workflow_id != workflow_id || f.task_id != task_id || f.generation != generation) {
    return Status::Corruption("document is for workflow '" + f.workflow_id + "', task '" +
                              f.task_id + "', generation " + std::to_string(f.generation) +
                              ", stored as generation " + std::to_string(generation));
  }
  return Status::OK();
}

}  // namespace

void AddTaskGroup(TaskStatus status, bool final, int64_t n, TaskCounts* counts) {
  // One Add on a zero value says which counters the group moves; TaskCounts
  // stays the only place that knows the rules.
  TaskCounts one;
  one.Add(status, final);
  counts->total += one.total * n;
  counts->succeeded += one.succeeded * n;
  counts->failed += one.failed * n;
  counts->running += one.running * n;
  counts->pending += one.pending * n;
  counts->cancelled += one.cancelled * n;
}

WorkflowStatus WorkflowStatusAfterWrite(const TaskCounts& counts, bool any_started,
                                        const std::optional<WorkflowStatus>& finalized) {
  if (finalized) return *finalized;
  return DeriveWorkflowStatus(counts, any_started);
}

RestoreDocument ChooseRestoreDocument(const std::string& workflow_id, const std::string& task_id,
                                      const StoredCheckpoint& stored) {
  const RestoreDocument current{stored.generation, stored.document};
  const Status problem = VerifyStored(workflow_id, task_id, stored.generation, stored.document);
  if (problem.ok() || !stored.backup_document) return current;
  const Status backup =
      VerifyStored(workflow_id, task_id, stored.backup_generation, *stored.backup_document);
  if (!backup.ok()) return current;
  spdlog::warn(
      "checkpoint of task '{}' in workflow '{}', generation {}, fails verification ({}); "
      "restoring its backup generation {}",
      task_id, workflow_id, stored.generation, problem.message(), stored.backup_generation);
  return RestoreDocument{stored.backup_generation, *stored.backup_document};
}

Status MissingTask(const std::string& workflow_id, const char* record, int64_t seq, int64_t ordinal,
                   const std::string& task_id) {
  std::string task = "ordinal " + std::to_string(ordinal);
  if (!task_id.empty()) task = "'" + task_id + "' at " + task;
  return Status::InvalidArgument(std::string(record) + " record (seq " + std::to_string(seq) +
                                 "): workflow '" + workflow_id + "' has no task " + task +
                                 " (was its list recorded by init?)");
}

Status RequeueRefusal(const WorkflowState& state, bool force) {
  const TaskCounts& c = state.counts;
  if (force || (c.running == 0 && c.pending == 0)) return Status::OK();
  return Status::InvalidArgument(
      "workflow '" + state.workflow_id + "' is " + ToString(state.status) + " with " +
      std::to_string(c.running) + " running and " + std::to_string(c.pending) +
      " pending tasks: requeue changes a workflow only when nothing is left to run; wait for "
      "it to end, or give --force if it was stopped and will not go on");
}

const char* RequeueableTasks(const std::optional<TaskStatus>& status) {
  if (!status) return "failed for good or quarantined";
  return *status == TaskStatus::kQuarantined ? "quarantined" : "failed for good";
}

Status RequeueInTransaction(const std::string& workflow_id, const RequeueRequest& request,
                            const RequeueSteps& steps, RequeueResult* result) {
  *result = RequeueResult();
  Result<std::optional<WorkflowState>> before = steps.read_state();
  if (!before.ok()) return before.status();
  if (!*before) return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
  result->before = std::move(**before);
  TM_RETURN_IF_ERROR(RequeueRefusal(result->before, request.force));
  std::vector<int64_t> ordinals;
  if (request.task_ids) {
    for (const std::string& task_id : *request.task_ids) {
      Result<std::optional<int64_t>> ordinal = steps.requeue_task(task_id);
      if (!ordinal.ok()) return ordinal.status();
      if (!*ordinal) {
        return Status::InvalidArgument("task '" + task_id + "' of workflow '" + workflow_id +
                                       "' is not " + RequeueableTasks(request.status) +
                                       " (it is unknown, or in another state): nothing was "
                                       "requeued");
      }
      ordinals.push_back(**ordinal);
    }
  } else {
    Result<std::vector<int64_t>> all = steps.requeue_all();
    if (!all.ok()) return all.status();
    ordinals = std::move(all).value();
  }
  result->requeued = static_cast<int64_t>(ordinals.size());
  if (ordinals.empty()) {
    result->after = result->before;
    return Status::OK();
  }
  TM_RETURN_IF_ERROR(steps.reopen(ordinals));
  Result<std::optional<WorkflowState>> after = steps.read_state();
  if (!after.ok()) return after.status();
  result->after = std::move(**after);
  return Status::OK();
}

std::optional<int> ExitCodeFromColumn(const std::optional<int64_t>& value) {
  if (!value) return std::nullopt;
  return static_cast<int>(*value);
}

}  // namespace taskmaster::sidecar
