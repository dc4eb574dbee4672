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
      "# TYPE workflow_duration_seconds histogram\n");
}

BOOST_AUTO_TEST_CASE(each_family_has_its_label_names_and_buckets) {
  Metrics m;
  m.workflow_duration_seconds("multi-task", "succeeded").Observe(2);
  m.checkpoint_operations_total("save", "ok").Inc(3);
  m.task_duration_seconds("failed").Observe(0.004);
  m.tasks_total("cancelled").Inc();
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
           "task_duration_seconds_bucket{status=\"failed\",le=\"0.001\"} 0",
           "task_duration_seconds_bucket{status=\"failed\",le=\"0.0050000000000000001\"} 1",
           "tasks_total{status=\"cancelled\"} 1",
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
