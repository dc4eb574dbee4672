#include "workflow_progress.h"

#include <algorithm>
#include <cmath>

#include "taskmaster/json.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {
namespace {

rapidjson::Value Rounded(double value, double scale) {
  return rapidjson::Value(std::round(value * scale) / scale);
}

}  // namespace

bool IsTerminal(WorkflowStatus s) {
  return s == WorkflowStatus::kSucceeded || s == WorkflowStatus::kFailed;
}

WorkflowProgress ProgressOf(const WorkflowState& state, int64_t now_ms) {
  const TaskCounts& c = state.counts;
  WorkflowProgress p;
  p.done = c.succeeded + c.failed + c.cancelled;
  p.percent = c.total > 0 ? 100.0 * static_cast<double>(p.done) / static_cast<double>(c.total) : 0;
  const int64_t end_ms = IsTerminal(state.status) ? state.updated_at_ms : now_ms;
  const double elapsed = static_cast<double>(end_ms - state.created_at_ms) / 1000.0;
  p.rate = elapsed > 0 ? static_cast<double>(p.done) / elapsed : 0;
  const int64_t remaining = c.total - p.done;
  if (remaining <= 0) {
    p.eta_seconds = 0;
  } else if (!IsTerminal(state.status) && p.rate > 0) {
    p.eta_seconds =
        static_cast<int>(std::min<double>(std::ceil(static_cast<double>(remaining) / p.rate), 1e9));
  }
  return p;
}

std::optional<FailureBudget> ShownBudget(const WorkflowState& state,
                                         std::optional<int64_t> max_failures_override) {
  std::optional<FailureBudget> budget = state.budget;
  if (max_failures_override) {
    if (!budget) budget.emplace();
    budget->max_failures = *max_failures_override;
  }
  return budget;
}

int64_t Tolerated(const FailureBudget& budget, const TaskCounts& counts) {
  return protocol::ToleratedFailures(budget.max_failures, budget.max_failure_percent, counts.total);
}

std::string ProgressJson(const WorkflowState& state, int64_t now_ms, const char* source,
                         std::optional<int64_t> max_failures_override) {
  const std::optional<FailureBudget> budget = ShownBudget(state, max_failures_override);
  const WorkflowProgress p = ProgressOf(state, now_ms);
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(state.workflow_id);
  w.Key("status").String(ToString(state.status));
  WriteTaskCounts(state.counts, &w);
  w.Key("done").Int64(p.done);
  w.Key("percent").Value(Rounded(p.percent, 10));
  w.Key("rate").Value(Rounded(p.rate, 1000));
  w.Key("eta_seconds").OptionalInt(p.eta_seconds);
  w.Key("created_at").Time(state.created_at_ms);
  w.Key("updated_at").Time(state.updated_at_ms);
  if (budget) {
    const int64_t tolerated = Tolerated(*budget, state.counts);
    w.Key("max_failures").Int64(budget->max_failures);
    w.Key("max_failure_percent").Double(budget->max_failure_percent);
    w.Key("tolerated").Int64(tolerated);
    w.Key("failure_budget_left").Int64(std::max<int64_t>(tolerated - state.counts.failed, 0));
    // What the shards were given per task, once one recorded it.
    if (budget->task_retries) w.Key("task_retries").Int64(*budget->task_retries);
    if (budget->quarantine_after) w.Key("quarantine_after").Int64(*budget->quarantine_after);
  }
  w.Key("source").String(source);
  w.EndObject();
  return w.Take();
}

}  // namespace taskmaster::sidecar
