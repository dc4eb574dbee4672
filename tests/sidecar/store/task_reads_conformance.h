// Conformance cases of the operator's reads and the attempt history
// (task_reads.h), and of the upgrade (versions 3 and 4) from a version 2 database
// (schema_v2.h). Registered by TM_STORE_CONFORMANCE_TESTS with the others.
#ifndef TASKMASTER_TESTS_SIDECAR_STORE_TASK_READS_CONFORMANCE_H_
#define TASKMASTER_TESTS_SIDECAR_STORE_TASK_READS_CONFORMANCE_H_

#include <string>
#include <vector>

#include "schema_v2.h"
#include "store/task_reads.h"
#include "taskmaster/time.h"

namespace taskmaster::sidecar::conformance {

inline std::vector<int64_t> Ordinals(const TaskPage& page) {
  std::vector<int64_t> ordinals;
  for (const TaskRow& t : page.tasks) ordinals.push_back(t.ordinal);
  return ordinals;
}

inline std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> out;
  for (int64_t i = first; i <= last; ++i) out.push_back(i);
  return out;
}

// Each attempt of a task is a row with its fence, shard, pod, times, outcome,
// exit code, error and the generation it left; only the last
// kAttemptsKeptPerTask stay, and the numbering goes on past them.
inline void AttemptsAreRecordedAndBounded(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-attempts", TaskIds(4), 2);
  const int64_t runs = kAttemptsKeptPerTask + 3;
  std::vector<int64_t> fences;
  for (int64_t i = 0; i < runs; ++i) {
    TestWriter w(s, wf, pr::Role::kShard, 1);
    fences.push_back(w.fence());
    Batch b = w.NewBatch();
    b.pod = "pod-" + std::to_string(i);
    w.Start(&b, 2, ids[2], /*attempt=*/i % 4);
    w.Checkpoint(&b, 2, ids[2], i + 1);
    if (i % 3 == 0) {
      w.End(&b, 2, ids[2], TaskStatus::kInterrupted, false, 143, "interrupted by SIGTERM");
    } else if (i % 3 == 1) {
      w.End(&b, 2, ids[2], TaskStatus::kFailed, false, 1, "exit code 1 " + std::to_string(i));
    } else {
      w.End(&b, 2, ids[2], TaskStatus::kFailed, false, 143, "timed out after 5 s");
    }
    const ApplyResult first = MustApply(s, b);
    BOOST_TEST(!first.fenced);
    // A replay of the batch adds no attempt.
    BOOST_TEST(MustApply(s, b).skipped == first.applied);
  }
  TaskHistory history = Must(s.LoadTaskHistory(wf, ids[2]), "LoadTaskHistory");
  BOOST_TEST(history.task.task_id == ids[2]);
  BOOST_TEST(history.task.ordinal == 2);
  BOOST_REQUIRE_EQUAL(history.attempts.size(), static_cast<size_t>(kAttemptsKeptPerTask));
  for (size_t k = 0; k < history.attempts.size(); ++k) {
    const int64_t i = runs - kAttemptsKeptPerTask + static_cast<int64_t>(k);
    const AttemptRow& a = history.attempts[k];
    BOOST_TEST_CONTEXT("attempt " << a.attempt) {
      BOOST_TEST(a.attempt == i + 1);
      BOOST_TEST(a.fence == fences[i]);
      BOOST_TEST(a.shard == 1);
      BOOST_TEST(a.step_attempt == i % 4);
      BOOST_TEST(a.pod == "pod-" + std::to_string(i));
      BOOST_TEST(a.generation == i + 1);
      BOOST_TEST(a.finished_at_ms.has_value());
      BOOST_TEST(a.started_at_ms > 1767225600000);
      BOOST_TEST((a.duration_ms == std::optional<int64_t>(5)));
      const char* want = i % 3 == 0 ? "interrupted" : i % 3 == 1 ? "failed" : "timed_out";
      BOOST_TEST(ToString(a.outcome) == std::string(want));
      BOOST_TEST((a.exit_code == std::optional<int>(i % 3 == 1 ? 1 : 143)));
      if (i % 3 == 2) BOOST_TEST(a.error == "timed out after 5 s");
    }
  }
  BOOST_TEST(h.QueryOne("SELECT count(*) FROM task_attempts").value_or("") ==
             std::to_string(kAttemptsKeptPerTask));

  // An attempt whose end is in a later batch is running until then; a
  // cancelled task (no start) has no attempt.
  TestWriter w(s, wf, pr::Role::kShard, 1);
  Batch b = w.NewBatch();
  w.Start(&b, 3, ids[3]);
  MustApply(s, b);
  history = Must(s.LoadTaskHistory(wf, ids[3]), "LoadTaskHistory");
  BOOST_REQUIRE_EQUAL(history.attempts.size(), 1u);
  BOOST_TEST(history.attempts[0].attempt == 1);
  BOOST_TEST(ToString(history.attempts[0].outcome) == std::string("running"));
  BOOST_TEST(!history.attempts[0].finished_at_ms.has_value());
  BOOST_TEST(history.attempts[0].pod.empty());
  b = w.NewBatch();
  w.End(&b, 3, ids[3], TaskStatus::kSucceeded);
  TestWriter w0(s, wf, pr::Role::kShard, 0);
  Batch cancel = w0.NewBatch();
  w0.End(&cancel, 0, ids[0], TaskStatus::kCancelled, false, std::nullopt, "cancelled");
  MustApply(s, b);
  MustApply(s, cancel);
  history = Must(s.LoadTaskHistory(wf, ids[3]), "LoadTaskHistory");
  BOOST_REQUIRE_EQUAL(history.attempts.size(), 1u);
  BOOST_TEST(ToString(history.attempts[0].outcome) == std::string("succeeded"));
  BOOST_TEST((history.task.status == TaskStatus::kSucceeded));
  BOOST_TEST(Must(s.LoadTaskHistory(wf, ids[0]), "LoadTaskHistory").attempts.empty());

  // They go with their workflow.
  TestWriter finalize(s, wf, pr::Role::kFinalize, 0);
  b = finalize.NewBatch();
  finalize.Commit(&b, WorkflowStatus::kFailed);
  MustApply(s, b);
  Must(s.DeleteFinishedBefore(NowMillis() + 60000), "DeleteFinishedBefore");
  BOOST_TEST(h.QueryOne("SELECT count(*) FROM task_attempts").value_or("") == "0");
}

// Pages follow the ordinals from `after`, one status or all, and say where the
// next page starts until the last.
inline void TasksArePagedByKeyset(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-pages", TaskIds(25), 5);
  TestWriter w(s, wf, pr::Role::kShard, 0);
  Batch b = w.NewBatch();
  for (int64_t i = 0; i < 25; i += 3) {
    w.Start(&b, i, ids[i], 1);
    w.End(&b, i, ids[i], TaskStatus::kFailed, true, 7, "boom");
  }
  MustApply(s, b);

  TaskQuery q;
  q.limit = 10;
  TaskPage page = Must(s.ListTasks(wf, q), "ListTasks");
  BOOST_TEST(Ordinals(page) == Range(0, 9));
  BOOST_TEST((page.next_after == std::optional<int64_t>(9)));
  BOOST_TEST(page.tasks[1].task_id == ids[1]);
  BOOST_TEST((page.tasks[1].status == TaskStatus::kPending));
  BOOST_TEST((page.tasks[3].status == TaskStatus::kFailed));
  BOOST_TEST(page.tasks[3].final);
  BOOST_TEST(page.tasks[3].attempts == 2);
  BOOST_TEST((page.tasks[3].exit_code == std::optional<int>(7)));
  BOOST_TEST(page.tasks[3].error == "boom");
  BOOST_TEST(page.tasks[3].started_at_ms.has_value());
  BOOST_TEST(page.tasks[3].finished_at_ms.has_value());
  BOOST_TEST((page.tasks[3].duration_ms == std::optional<int64_t>(5)));
  q.after = page.next_after;
  page = Must(s.ListTasks(wf, q), "ListTasks");
  BOOST_TEST(Ordinals(page) == Range(10, 19));
  q.after = page.next_after;
  page = Must(s.ListTasks(wf, q), "ListTasks");
  BOOST_TEST(Ordinals(page) == Range(20, 24));
  BOOST_TEST(!page.next_after.has_value());
  // A page that ends exactly at the last task is the last page.
  q.after = 14;
  page = Must(s.ListTasks(wf, q), "ListTasks");
  BOOST_TEST(Ordinals(page) == Range(15, 24));
  BOOST_TEST(!page.next_after.has_value());

  q = TaskQuery();
  q.status = TaskStatus::kFailed;
  q.limit = 4;
  page = Must(s.ListTasks(wf, q), "ListTasks");
  BOOST_TEST(Ordinals(page) == (std::vector<int64_t>{0, 3, 6, 9}));
  BOOST_TEST((page.next_after == std::optional<int64_t>(9)));
  q.after = 9;
  page = Must(s.ListTasks(wf, q), "ListTasks");
  BOOST_TEST(Ordinals(page) == (std::vector<int64_t>{12, 15, 18, 21}));
  q.after = 21;
  page = Must(s.ListTasks(wf, q), "ListTasks");
  BOOST_TEST(Ordinals(page) == (std::vector<int64_t>{24}));
  BOOST_TEST(!page.next_after.has_value());
  q.status = TaskStatus::kRunning;
  BOOST_TEST(Must(s.ListTasks(wf, q), "ListTasks").tasks.empty());

  const Status unknown = s.ListTasks("wf-none", TaskQuery()).status();
  BOOST_TEST(unknown.IsNotFound(), unknown.ToString());
  BOOST_TEST(Contains(unknown.message(), "wf-none"), unknown.message());
  const Status no_task = s.LoadTaskHistory(wf, "no/such").status();
  BOOST_TEST(no_task.IsNotFound(), no_task.ToString());
  BOOST_TEST(Contains(no_task.message(), "workflow 'wf-pages' has no task 'no/such'"),
             no_task.message());
  BOOST_TEST(s.LoadTaskHistory("wf-none", ids[0]).status().IsNotFound());
}

// A database made by schema version 2 (the version before task attempts) is
// upgraded in place: its rows keep their values, SQLite's times become ISO
// 8601 text, and the store reads and writes it as a new one.
inline void MigrateUpgradesVersion2(StoreHarness& h) {
  StateStore& s = h.store();
  for (const char* table : {"checkpoints", "task_attempts", "shard_counts", "task_states", "fences",
                            "workflow_states", "schema_migrations"}) {
    h.Exec(std::string("DROP TABLE ") + table);
  }
  for (const std::string& sql : SchemaV2Statements(h.postgres())) h.Exec(sql);
  const Status old = s.CheckSchema();
  BOOST_TEST(Contains(old.message(), "version 2"), old.message());
  const Status migrated = s.Migrate();
  BOOST_REQUIRE_MESSAGE(migrated.ok(), "Migrate from version 2: " << migrated.ToString());
  BOOST_REQUIRE(s.CheckSchema().ok());

  const WorkflowState state = Must(s.LoadWorkflowState("wf-v2"), "LoadWorkflowState");
  BOOST_TEST(state.created_at_ms == kV2CreatedMs);
  BOOST_TEST(state.updated_at_ms == kV2FinishedMs);
  BOOST_TEST(state.version == 4);
  const TaskPage page = Must(s.ListTasks("wf-v2", TaskQuery()), "ListTasks");
  BOOST_REQUIRE_EQUAL(page.tasks.size(), 3u);
  BOOST_TEST((page.tasks[0].started_at_ms == std::optional<int64_t>(kV2CreatedMs)));
  BOOST_TEST((page.tasks[0].finished_at_ms == std::optional<int64_t>(kV2FinishedMs)));
  BOOST_TEST((page.tasks[1].status == TaskStatus::kFailed));
  BOOST_TEST(!page.tasks[2].started_at_ms.has_value());
  if (!h.postgres()) {
    BOOST_TEST(h.QueryOne("SELECT created_at FROM workflow_states").value_or("") ==
               "2026-01-01T00:00:00.123Z");
    BOOST_TEST(h.QueryOne("SELECT finished_at FROM task_states WHERE ordinal = 0").value_or("") ==
               FormatRfc3339Millis(kV2FinishedMs));
    BOOST_TEST(h.QueryOne("SELECT updated_at FROM checkpoints").value_or("") ==
               "2026-01-01T00:00:01.456Z");
    BOOST_TEST(
        h.QueryOne("SELECT applied_at FROM schema_migrations WHERE version = 1").value_or("") ==
        "2026-01-01T00:00:00.123Z");
    BOOST_TEST(h.QueryOne("SELECT count(*) FROM schema_migrations WHERE typeof(applied_at) = "
                          "'text'")
                   .value_or("") == "6");
  }

  // The pending task runs on the upgraded schema; its attempt is recorded.
  TestWriter w(s, "wf-v2", pr::Role::kShard, 1);
  BOOST_TEST(w.fence() == 1);
  Batch b = w.NewBatch();
  w.Succeed(&b, 2, "c");
  CheckCounts(MustApply(s, b).state.counts, Counts(2, 1, 0, 0, 0));
  const TaskHistory history = Must(s.LoadTaskHistory("wf-v2", "c"), "LoadTaskHistory");
  BOOST_REQUIRE_EQUAL(history.attempts.size(), 1u);
  BOOST_TEST(history.attempts[0].attempt == 1);
  // Rows of a deleted workflow still go with it (the foreign keys survived).
  TestWriter finalize(s, "wf-v2", pr::Role::kFinalize, 0);
  b = finalize.NewBatch();
  finalize.Commit(&b, WorkflowStatus::kSucceeded);
  MustApply(s, b);
  Must(s.DeleteFinishedBefore(NowMillis() + 60000), "DeleteFinishedBefore");
  for (const char* table : {"task_states", "checkpoints", "task_attempts", "shard_counts"}) {
    BOOST_TEST(h.QueryOne(std::string("SELECT count(*) FROM ") + table).value_or("") == "0", table);
  }
}

}  // namespace taskmaster::sidecar::conformance

#endif  // TASKMASTER_TESTS_SIDECAR_STORE_TASK_READS_CONFORMANCE_H_
