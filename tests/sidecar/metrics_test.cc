// The sidecar's metrics as DESIGN.md §9 names them: the families, their help,
// types and label names are a contract with dashboards and alerts.
#include "metrics.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace taskmaster::sidecar {
namespace {

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(every_family_is_declared_with_its_help_and_type) {
  Metrics metrics;
  BOOST_CHECK_EQUAL(
      metrics.Render(),
      "# HELP checkpoint_operations_total Checkpoint operations\n"
      "# TYPE checkpoint_operations_total counter\n"
      "# HELP fence_rejections_total Records refused because a newer attempt owns the state\n"
      "# TYPE fence_rejections_total counter\n"
      "fence_rejections_total 0\n"
      "# HELP flush_batch_records Journal records per committed batch\n"
      "# TYPE flush_batch_records histogram\n"
      "# HELP flush_duration_seconds Time to commit one batch, by store\n"
      "# TYPE flush_duration_seconds histogram\n"
      "# HELP journal_lag_bytes Journal bytes written but not yet acknowledged\n"
      "# TYPE journal_lag_bytes gauge\n"
      "journal_lag_bytes 0\n"
      "# HELP store_errors_total Store operations that failed\n"
      "# TYPE store_errors_total counter\n"
      "# HELP store_up 1 when the store answered its last operation\n"
      "# TYPE store_up gauge\n"
      "# HELP task_duration_seconds Task run time, by final status\n"
      "# TYPE task_duration_seconds histogram\n"
      "# HELP tasks_total Tasks that reached a status durably\n"
      "# TYPE tasks_total counter\n"
      "# HELP workflow_duration_seconds Wall time of the step this sidecar served, by outcome\n"
      "# TYPE workflow_duration_seconds histogram\n"
      "# HELP workflow_failures_tolerated Final task failures the workflow tolerates, from its "
      "recorded failure budget\n"
      "# TYPE workflow_failures_tolerated gauge\n"
      "# HELP workflow_last_progress_timestamp_seconds Unix time the workflow's count of done "
      "tasks last grew, as this sidecar saw it\n"
      "# TYPE workflow_last_progress_timestamp_seconds gauge\n"
      "# HELP workflow_tasks Tasks of the workflow by status, as stored at this sidecar's last "
      "commit\n"
      "# TYPE workflow_tasks gauge\n");
}

BOOST_AUTO_TEST_CASE(each_family_has_its_label_names_and_buckets) {
  Metrics m;
  m.workflow_duration_seconds("multi-task", "succeeded").Observe(2);
  m.checkpoint_operations_total("save", "ok").Inc(3);
  m.task_duration_seconds("wf-1", "failed").Observe(0.004);
  m.tasks_total("wf-1", "cancelled").Inc();
  m.flush_duration_seconds("postgres").Observe(0.02);
  m.flush_batch_records().Observe(500);
  m.journal_lag_bytes().Set(4096);
  m.fence_rejections_total().Inc(2);
  m.store_errors_total("redis", "timeout").Inc();
  m.store_up("sqlite").Set(1);
  const std::string text = m.Render();
  for (const char* line : {
           "workflow_duration_seconds_bucket{workflow_type=\"multi-task\",status=\"succeeded\","
           "le=\"3600\"} 1",
           "workflow_duration_seconds_sum{workflow_type=\"multi-task\",status=\"succeeded\"} 2",
           "checkpoint_operations_total{operation=\"save\",status=\"ok\"} 3",
           "task_duration_seconds_bucket{workflow=\"wf-1\",status=\"failed\",le=\"0.001\"} 0",
           "task_duration_seconds_bucket{workflow=\"wf-1\",status=\"failed\","
           "le=\"0.0050000000000000001\"} 1",
           "tasks_total{workflow=\"wf-1\",status=\"cancelled\"} 1",
           "flush_duration_seconds_count{store=\"postgres\"} 1",
           "flush_batch_records_bucket{le=\"250\"} 0",
           "flush_batch_records_bucket{le=\"1000\"} 1",
           "flush_batch_records_count 1",
           "journal_lag_bytes 4096",
           "fence_rejections_total 2",
           "store_errors_total{store=\"redis\",kind=\"timeout\"} 1",
           "store_up{store=\"sqlite\"} 1",
       }) {
    BOOST_CHECK_MESSAGE(Contains(text, line), "no line " << line << " in\n" << text);
  }
}

WorkflowState StateOf(int64_t succeeded, int64_t failed, int64_t running, int64_t pending) {
  WorkflowState state;
  state.workflow_id = "wf-1";
  state.status = WorkflowStatus::kRunning;
  state.counts.succeeded = succeeded;
  state.counts.failed = failed;
  state.counts.running = running;
  state.counts.pending = pending;
  state.counts.total = succeeded + failed + running + pending;
  state.created_at_ms = 1'700'000'000'000;
  return state;
}

BOOST_AUTO_TEST_CASE(workflow_gauges_hold_the_counts_and_when_the_done_count_last_grew) {
  Metrics m;
  auto last_progress = m.workflow_last_progress_timestamp_seconds("wf-1");
  // First seen with nothing done: no task finished since the workflow was created.
  ExportWorkflowState(StateOf(0, 0, 2, 8), 1'700'000'600'000, &m);
  BOOST_CHECK_EQUAL(last_progress.Value(), 1'700'000'000);
  BOOST_CHECK_EQUAL(m.workflow_tasks("wf-1", "running").Value(), 2);
  BOOST_CHECK_EQUAL(m.workflow_tasks("wf-1", "pending").Value(), 8);
  // Tasks started, none finished: the clock stands.
  ExportWorkflowState(StateOf(0, 0, 4, 6), 1'700'000'700'000, &m);
  BOOST_CHECK_EQUAL(last_progress.Value(), 1'700'000'000);
  // A final failure is progress too.
  ExportWorkflowState(StateOf(0, 1, 4, 5), 1'700'000'800'000, &m);
  BOOST_CHECK_EQUAL(last_progress.Value(), 1'700'000'800);
  ExportWorkflowState(StateOf(0, 1, 4, 5), 1'700'000'900'000, &m);
  BOOST_CHECK_EQUAL(last_progress.Value(), 1'700'000'800);
  const std::string text = m.Render();
  for (const char* line : {
           "workflow_tasks{workflow=\"wf-1\",status=\"cancelled\"} 0",
           "workflow_tasks{workflow=\"wf-1\",status=\"failed\"} 1",
           "workflow_tasks{workflow=\"wf-1\",status=\"pending\"} 5",
           "workflow_tasks{workflow=\"wf-1\",status=\"running\"} 4",
           "workflow_tasks{workflow=\"wf-1\",status=\"succeeded\"} 0",
           "workflow_last_progress_timestamp_seconds{workflow=\"wf-1\"} 1700000800",
       }) {
    BOOST_CHECK_MESSAGE(Contains(text, line), "no line " << line << " in\n" << text);
  }
}

BOOST_AUTO_TEST_CASE(the_tolerated_failures_come_from_the_recorded_budget) {
  Metrics m;
  WorkflowState state = StateOf(0, 1, 2, 7);
  ExportWorkflowState(state, 1'700'000'600'000, &m);
  BOOST_CHECK(m.Render().find("workflow_failures_tolerated{") == std::string::npos);
  // 30% of 10 tasks is more than max-failures 2.
  state.budget = FailureBudget{2, 30, 3, std::nullopt};
  ExportWorkflowState(state, 1'700'000'700'000, &m);
  BOOST_CHECK_EQUAL(m.workflow_failures_tolerated("wf-1").Value(), 3);
  state.budget->max_failures = 5;
  ExportWorkflowState(state, 1'700'000'800'000, &m);
  BOOST_CHECK_EQUAL(m.workflow_failures_tolerated("wf-1").Value(), 5);
}

BOOST_AUTO_TEST_CASE(a_sidecar_that_joins_midway_counts_its_first_commit_as_progress) {
  Metrics m;
  ExportWorkflowState(StateOf(3, 0, 1, 6), 1'700'000'600'000, &m);
  BOOST_CHECK_EQUAL(m.workflow_last_progress_timestamp_seconds("wf-1").Value(), 1'700'000'600);
}

BOOST_AUTO_TEST_CASE(status_kinds) {
  BOOST_CHECK_EQUAL(StatusKind(Status::Unavailable("")), "unavailable");
  BOOST_CHECK_EQUAL(StatusKind(Status::Timeout("")), "timeout");
  BOOST_CHECK_EQUAL(StatusKind(Status::Fenced("")), "fenced");
  BOOST_CHECK_EQUAL(StatusKind(Status::Corruption("")), "corruption");
  BOOST_CHECK_EQUAL(StatusKind(Status::InvalidArgument("")), "invalid");
  BOOST_CHECK_EQUAL(StatusKind(Status::IOError("")), "other");
  BOOST_CHECK_EQUAL(StatusKind(Status::Busy("")), "other");
  BOOST_CHECK_EQUAL(StatusKind(Status::NotFound("")), "other");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
