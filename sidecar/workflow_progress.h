// A workflow's progress as people read it — done, percent, rate, ETA — from its
// stored state, for GET /api/workflows/<id>/progress and `tm-sidecar get`.
// Pure functions of their arguments: thread-safe.
#ifndef TASKMASTER_SIDECAR_WORKFLOW_PROGRESS_H_
#define TASKMASTER_SIDECAR_WORKFLOW_PROGRESS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "taskmaster/state.h"

namespace taskmaster::sidecar {

struct WorkflowProgress {
  int64_t done = 0;  // succeeded, failed for good or cancelled
  double percent = 0;
  double rate = 0;                 // done tasks per second since the workflow was created
  std::optional<int> eta_seconds;  // 0 when nothing is left; none when unknown
};

bool IsTerminal(WorkflowStatus status);

// `now_ms`: the time the progress is for; a finished workflow's rate stops at
// its last update rather than decaying.
WorkflowProgress ProgressOf(const WorkflowState& state, int64_t now_ms);

// The failure budget to show: the recorded one (state.budget), its
// max_failures replaced by `max_failures_override` when given (a workflow
// recorded before schema 5 has none: the override alone then, percent 0).
// nullopt when neither is known.
std::optional<FailureBudget> ShownBudget(const WorkflowState& state,
                                         std::optional<int64_t> max_failures_override);
// Final failures the workflow tolerates under `budget` (protocol::ToleratedFailures).
int64_t Tolerated(const FailureBudget& budget, const TaskCounts& counts);

// The progress document: the state's counts, done, percent (one decimal), rate
// (three), eta_seconds, times, and `source` ("redis" or "store"). With a
// ShownBudget, also max_failures, max_failure_percent, tolerated and
// failure_budget_left (final failures still tolerated, never below 0) before
// `source`.
std::string ProgressJson(const WorkflowState& state, int64_t now_ms, const char* source,
                         std::optional<int64_t> max_failures_override = std::nullopt);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_WORKFLOW_PROGRESS_H_
