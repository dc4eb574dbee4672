#include "taskmaster/state.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "golden.h"

using taskmaster::DeriveWorkflowStatus;
using taskmaster::ParseTaskStatus;
using taskmaster::ParseWorkflowStatus;
using taskmaster::TaskCounts;
using taskmaster::TaskState;
using taskmaster::TaskStatus;
using taskmaster::WorkflowState;
using taskmaster::WorkflowStatus;
using taskmaster::testing::ReadGolden;

namespace {

TaskCounts Counts(int64_t succeeded, int64_t failed, int64_t running, int64_t pending,
                  int64_t cancelled) {
  const int64_t total = succeeded + failed + running + pending + cancelled;
  return TaskCounts{total, succeeded, failed, running, pending, cancelled};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state)

BOOST_AUTO_TEST_CASE(status_names_round_trip) {
  BOOST_TEST(std::string(ToString(TaskStatus::kInterrupted)) == "interrupted");
  BOOST_TEST(std::string(ToString(TaskStatus::kCancelled)) == "cancelled");
  BOOST_TEST(std::string(ToString(WorkflowStatus::kSucceeded)) == "succeeded");
  for (TaskStatus s : {TaskStatus::kPending, TaskStatus::kRunning, TaskStatus::kSucceeded,
                       TaskStatus::kFailed, TaskStatus::kInterrupted, TaskStatus::kCancelled}) {
    auto parsed = ParseTaskStatus(ToString(s));
    BOOST_REQUIRE(parsed.ok());
    BOOST_TEST(static_cast<int>(*parsed) == static_cast<int>(s));
  }
  for (WorkflowStatus s : {WorkflowStatus::kPending, WorkflowStatus::kRunning,
                           WorkflowStatus::kSucceeded, WorkflowStatus::kFailed}) {
    auto parsed = ParseWorkflowStatus(ToString(s));
    BOOST_REQUIRE(parsed.ok());
    BOOST_TEST(static_cast<int>(*parsed) == static_cast<int>(s));
  }
  auto bad = ParseTaskStatus("Succeeded");
  BOOST_TEST(bad.status().IsInvalidArgument());
  BOOST_TEST(bad.status().message().find("'Succeeded'") != std::string::npos);
  BOOST_TEST(ParseWorkflowStatus("interrupted").status().IsInvalidArgument());
}

BOOST_AUTO_TEST_CASE(task_counts_follow_the_failure_rules) {
  TaskCounts c;
  c.Add(TaskStatus::kSucceeded, false);
  c.Add(TaskStatus::kFailed, true);        // final: counts as failed
  c.Add(TaskStatus::kFailed, false);       // will run again: pending
  c.Add(TaskStatus::kInterrupted, false);  // will run again: pending
  c.Add(TaskStatus::kRunning, false);
  c.Add(TaskStatus::kPending, false);
  c.Add(TaskStatus::kCancelled, false);
  BOOST_TEST((c == Counts(1, 1, 1, 3, 1)));
  BOOST_TEST(c.total == 7);
}

BOOST_AUTO_TEST_CASE(derived_workflow_status_table) {
  struct Case {
    TaskCounts counts;
    bool any_started;
    WorkflowStatus want;
  };
  const Case cases[] = {
      {Counts(0, 0, 0, 0, 0), false, WorkflowStatus::kPending},  // nothing recorded yet
      {Counts(0, 0, 0, 3, 0), false, WorkflowStatus::kPending},
      {Counts(0, 0, 0, 3, 0), true, WorkflowStatus::kRunning},  // ran, now pending again
      {Counts(0, 0, 1, 2, 0), false, WorkflowStatus::kRunning},
      {Counts(1, 0, 0, 2, 0), false, WorkflowStatus::kRunning},
      {Counts(3, 0, 0, 0, 0), true, WorkflowStatus::kSucceeded},
      {Counts(2, 1, 0, 0, 0), true, WorkflowStatus::kFailed},
      {Counts(1, 1, 0, 0, 1), true, WorkflowStatus::kFailed},
      {Counts(2, 0, 0, 0, 1), true, WorkflowStatus::kFailed},   // cancelled, nothing left
      {Counts(1, 1, 0, 1, 0), true, WorkflowStatus::kRunning},  // a failure, still work left
      {Counts(1, 1, 1, 0, 0), true, WorkflowStatus::kRunning},
  };
  for (const Case& c : cases) {
    BOOST_TEST(ToString(DeriveWorkflowStatus(c.counts, c.any_started)) == ToString(c.want),
               "succeeded=" << c.counts.succeeded << " failed=" << c.counts.failed
                            << " running=" << c.counts.running << " pending=" << c.counts.pending
                            << " cancelled=" << c.counts.cancelled);
  }
}

BOOST_AUTO_TEST_CASE(workflow_state_golden_round_trips) {
  const std::string golden = ReadGolden("workflow-state.json");
  auto state = taskmaster::WorkflowStateFromJson(golden);
  BOOST_REQUIRE_MESSAGE(state.ok(), state.status().ToString());
  WorkflowState want;
  want.workflow_id = "uuid-123";
  want.status = WorkflowStatus::kRunning;
  want.counts = Counts(1, 0, 1, 1, 0);
  want.created_at_ms = 1795912082123;
  want.updated_at_ms = 1795912155004;
  want.version = 7;
  BOOST_TEST((*state == want));
  BOOST_TEST(taskmaster::WorkflowStateToJson(want) + "\n" == golden);
}

BOOST_AUTO_TEST_CASE(workflow_state_names_the_bad_field) {
  auto missing = taskmaster::WorkflowStateFromJson(
      R"({"workflow_id":"w","status":"running","total":1,"succeeded":0,"failed":0,)"
      R"("running":1,"cancelled":0,"created_at":"2026-11-29T00:28:02.123Z",)"
      R"("updated_at":"2026-11-29T00:28:02.123Z","version":1})");
  BOOST_TEST(missing.status().IsCorruption());
  BOOST_TEST(missing.status().message() == "workflow state: field 'pending': missing");

  auto bad_time = taskmaster::WorkflowStateFromJson(
      R"({"workflow_id":"w","status":"running","total":1,"succeeded":0,"failed":0,)"
      R"("running":1,"pending":0,"cancelled":0,"created_at":"2026-11-29T00:28:02Z",)"
      R"("updated_at":"2026-11-29T00:28:02.123Z","version":1})");
  BOOST_TEST(bad_time.status().IsCorruption());
  BOOST_TEST(bad_time.status().message().find("field 'created_at'") != std::string::npos);

  auto bad_status = taskmaster::WorkflowStateFromJson(
      R"({"workflow_id":"w","status":"cancelled","total":1,"succeeded":0,"failed":0,)"
      R"("running":1,"pending":0,"cancelled":0,"created_at":"2026-11-29T00:28:02.123Z",)"
      R"("updated_at":"2026-11-29T00:28:02.123Z","version":1})");
  BOOST_TEST(bad_status.status().message().find("field 'status'") != std::string::npos);

  BOOST_TEST(taskmaster::WorkflowStateFromJson("[1]").status().IsCorruption());
  BOOST_TEST(taskmaster::WorkflowStateFromJson(R"({"workflow_id":)").status().IsCorruption());
}

BOOST_AUTO_TEST_CASE(task_state_round_trips) {
  TaskState full;
  full.workflow_id = "uuid-123";
  full.task_id = "dir/task \"7\"";
  full.ordinal = 6;
  full.status = TaskStatus::kFailed;
  full.final = true;
  full.exit_code = -9;
  full.error = "killed by signal 9 (SIGKILL)\n";
  full.attempts = 4;
  full.started_at_ms = 1795912082123;
  full.finished_at_ms = 1795912083643;
  full.generation = 2;
  full.applied = {5, 17};
  const std::string json = taskmaster::TaskStateToJson(full);
  BOOST_TEST(json ==
             R"({"workflow_id":"uuid-123","task_id":"dir/task \"7\"","ordinal":6,)"
             R"("status":"failed","final":true,"exit_code":-9,)"
             R"("error":"killed by signal 9 (SIGKILL)\n","attempts":4,)"
             R"("started_at":"2026-11-29T00:28:02.123Z","finished_at":"2026-11-29T00:28:03.643Z",)"
             R"("generation":2,"fence":5,"seq":17})");
  auto back = taskmaster::TaskStateFromJson(json);
  BOOST_REQUIRE_MESSAGE(back.ok(), back.status().ToString());
  BOOST_TEST((*back == full));

  TaskState bare;
  bare.workflow_id = "uuid-123";
  bare.task_id = "task-1";
  const std::string bare_json = taskmaster::TaskStateToJson(bare);
  BOOST_TEST(bare_json.find(R"("exit_code":null)") != std::string::npos);
  BOOST_TEST(bare_json.find(R"("started_at":null,"finished_at":null)") != std::string::npos);
  auto bare_back = taskmaster::TaskStateFromJson(bare_json);
  BOOST_REQUIRE(bare_back.ok());
  BOOST_TEST((*bare_back == bare));
  BOOST_TEST(!bare_back->exit_code.has_value());

  auto wrong = taskmaster::TaskStateFromJson(
      R"({"workflow_id":"w","task_id":"t","ordinal":"6","status":"failed"})");
  BOOST_TEST(wrong.status().IsCorruption());
  BOOST_TEST(wrong.status().message() ==
             "task state: field 'ordinal': expected an integer, got a string");
  auto fraction = taskmaster::TaskStateFromJson(
      R"({"workflow_id":"w","task_id":"t","ordinal":6,"status":"failed","final":true,)"
      R"("exit_code":1.5})");
  BOOST_TEST(fraction.status().message().find("field 'exit_code'") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
