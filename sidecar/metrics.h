// The sidecar's Prometheus metrics (DESIGN.md §7, §9), each declared once
// here as a typed family (prometheus.h) and exported under its member's name:
//
//   metrics->store_errors_total(store, StatusKind(status)).Inc();
//   metrics->store_up("redis").Set(1);
//
// Thread-safe: the flush loop and the API update them while the HTTP server
// renders them.
//
// Series about one workflow carry a `workflow` label, its state key. A sidecar
// serves one workflow (a pod's, or every pod of one local run), so each process
// exports a bounded handful of them; Prometheus holds one set per workflow whose
// pods it scrapes (README.md, "Dashboards and alerts").
#ifndef TASKMASTER_SIDECAR_METRICS_H_
#define TASKMASTER_SIDECAR_METRICS_H_

#include "prometheus.h"
#include "taskmaster/state.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

inline const HistogramBuckets kSecondsBuckets{
    {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600}};
inline const HistogramBuckets kRecordBuckets{{1, 5, 10, 50, 100, 250, 500, 1000}};

// Declares the family `name`, exported under that very name: FAMILY<labels>,
// name, help, [buckets,] label names.
// clang-format off
#define TM_SIDECAR_METRIC(family, name, ...) family name{this, #name, __VA_ARGS__}
// clang-format on

class Metrics : public MetricRegistry {
 public:
  TM_SIDECAR_METRIC(HistogramFamily<2>, workflow_duration_seconds,
                    "Wall time of the step this sidecar served, by outcome", kSecondsBuckets,
                    "workflow_type", "status");
  TM_SIDECAR_METRIC(CounterFamily<2>, checkpoint_operations_total, "Checkpoint operations",
                    "operation", "status");
  TM_SIDECAR_METRIC(HistogramFamily<2>, task_duration_seconds, "Task run time, by final status",
                    kSecondsBuckets, "workflow", "status");
  TM_SIDECAR_METRIC(CounterFamily<2>, tasks_total, "Tasks that reached a status durably",
                    "workflow", "status");
  TM_SIDECAR_METRIC(HistogramFamily<1>, flush_duration_seconds,
                    "Time to commit one batch, by store", kSecondsBuckets, "store");
  TM_SIDECAR_METRIC(HistogramFamily<0>, flush_batch_records, "Journal records per committed batch",
                    kRecordBuckets);
  TM_SIDECAR_METRIC(GaugeFamily<0>, journal_lag_bytes,
                    "Journal bytes written but not yet acknowledged");
  TM_SIDECAR_METRIC(CounterFamily<0>, fence_rejections_total,
                    "Records refused because a newer attempt owns the state");
  TM_SIDECAR_METRIC(CounterFamily<2>, store_errors_total, "Store operations that failed", "store",
                    "kind");
  TM_SIDECAR_METRIC(GaugeFamily<1>, store_up, "1 when the store answered its last operation",
                    "store");
  // Per workflow, from the state the store returned with this sidecar's last
  // commit (ExportWorkflowState).
  TM_SIDECAR_METRIC(GaugeFamily<2>, workflow_tasks,
                    "Tasks of the workflow by status, as stored at this sidecar's last commit",
                    "workflow", "status");
  TM_SIDECAR_METRIC(
      GaugeFamily<1>, workflow_last_progress_timestamp_seconds,
      "Unix time the workflow's count of done tasks last grew, as this sidecar saw it", "workflow");
  TM_SIDECAR_METRIC(GaugeFamily<1>, workflow_failures_tolerated,
                    "Final task failures the workflow tolerates, from its recorded failure budget",
                    "workflow");
};

#undef TM_SIDECAR_METRIC

// The `kind` label of store_errors_total for a failed operation's status:
// unavailable, timeout, fenced, corruption, invalid or other. (The sidecar adds
// `record` and `journal` for journal records it cannot read.)
const char* StatusKind(const Status& status);

// Sets the per-workflow gauges from `state`, the workflow as the store holds
// it after a commit at `now_unix_ms`:
//   workflow_tasks{workflow, status}: pending, running, succeeded, failed (for
//     good only; a failure that will be retried counts as pending), cancelled;
//     their sum is the workflow's total.
//   workflow_last_progress_timestamp_seconds{workflow}: `now` when the done
//     count (succeeded + failed + cancelled) grew since the previous call for
//     the workflow. At the first call: the workflow's creation time when
//     nothing is done yet, else `now` (how long ago the done tasks finished is
//     not stored).
//   workflow_failures_tolerated{workflow}: the final failures the recorded
//     budget tolerates (max-failures, or max-failure-percent of the total when
//     that is more); not set while no step recorded a budget.
// Not atomic across calls: one thread (a sidecar's loop) calls it per registry.
void ExportWorkflowState(const WorkflowState& state, int64_t now_unix_ms, Metrics* metrics);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_METRICS_H_
