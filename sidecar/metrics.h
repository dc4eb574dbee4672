// The sidecar's Prometheus metrics (DESIGN.md §7, §9), each declared once
// here as a typed family (prometheus.h) and exported under its member's name:
//
//   metrics->store_errors_total(store, StatusKind(status)).Inc();
//   metrics->store_up("redis").Set(1);
//
// Thread-safe: the flush loop and the API update them while the HTTP server
// renders them.
#ifndef TASKMASTER_SIDECAR_METRICS_H_
#define TASKMASTER_SIDECAR_METRICS_H_

#include "prometheus.h"
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
  TM_SIDECAR_METRIC(HistogramFamily<1>, task_duration_seconds, "Task run time, by final status",
                    kSecondsBuckets, "status");
  TM_SIDECAR_METRIC(CounterFamily<1>, tasks_total, "Tasks that reached a status durably", "status");
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
};

#undef TM_SIDECAR_METRIC

// The `kind` label of store_errors_total for a failed operation's status:
// unavailable, timeout, fenced, corruption, invalid or other. (The sidecar adds
// `record` and `journal` for journal records it cannot read.)
const char* StatusKind(const Status& status);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_METRICS_H_
