#include "metrics.h"

#include <string>

#include "workflow_progress.h"

namespace taskmaster::sidecar {

const char* StatusKind(const Status& status) {
  switch (status.code()) {
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kTimeout:
      return "timeout";
    case Status::Code::kFenced:
      return "fenced";
    case Status::Code::kCorruption:
      return "corruption";
    case Status::Code::kInvalidArgument:
      return "invalid";
    default:
      return "other";
  }
}

void ExportWorkflowState(const WorkflowState& state, int64_t now_unix_ms, Metrics* metrics) {
  const std::string& id = state.workflow_id;
  const TaskCounts& c = state.counts;
  auto tasks = [&](TaskStatus status) { return metrics->workflow_tasks(id, ToString(status)); };
  // The previous call's done count, read back from the gauges it set.
  const double done_before = tasks(TaskStatus::kSucceeded).Value() +
                             tasks(TaskStatus::kFailed).Value() +
                             tasks(TaskStatus::kCancelled).Value();
  const int64_t done = c.succeeded + c.failed + c.cancelled;
  auto last_progress = metrics->workflow_last_progress_timestamp_seconds(id);
  // A gauge never set reads 0, and no workflow was created at the epoch.
  const bool first = last_progress.Value() == 0;
  if (first && done == 0) {
    last_progress.Set(static_cast<double>(state.created_at_ms) / 1000);
  } else if (first || static_cast<double>(done) > done_before) {
    last_progress.Set(static_cast<double>(now_unix_ms) / 1000);
  }
  tasks(TaskStatus::kPending).Set(static_cast<double>(c.pending));
  tasks(TaskStatus::kRunning).Set(static_cast<double>(c.running));
  tasks(TaskStatus::kSucceeded).Set(static_cast<double>(c.succeeded));
  tasks(TaskStatus::kFailed).Set(static_cast<double>(c.failed));
  tasks(TaskStatus::kCancelled).Set(static_cast<double>(c.cancelled));
  if (state.budget) {
    metrics->workflow_failures_tolerated(id).Set(static_cast<double>(Tolerated(*state.budget, c)));
  }
}

}  // namespace taskmaster::sidecar
