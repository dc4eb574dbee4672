// Requeue (state_store.h), as conformance cases both stores must pass: tasks
// that failed for good become pending with a fresh budget in one transaction,
// the workflow is reopened and its counts derived again; bad requests write
// nothing.
#ifndef TASKMASTER_TESTS_SIDECAR_STORE_REQUEUE_CONFORMANCE_H_
#define TASKMASTER_TESTS_SIDECAR_STORE_REQUEUE_CONFORMANCE_H_

#include <string>
#include <vector>

#include "store_conformance.h"

namespace taskmaster::sidecar::conformance {

// A finished workflow of four tasks: 0 and 3 succeeded, 1 and 2 failed for
// good after two failed attempts each (exit 3); finalize failed it. Its ids.
inline std::vector<std::string> FailedWorkflow(StateStore& s, const std::string& wf) {
  const std::vector<std::string> ids = TaskIds(4);
  InitWorkflow(s, wf, ids, 4);
  for (int attempt = 0; attempt < 2; ++attempt) {
    TestWriter shard(s, wf, pr::Role::kShard, 0);
    Batch b = shard.NewBatch();
    for (int i : {1, 2}) {
      shard.Start(&b, i, ids[i], attempt);
      shard.End(&b, i, ids[i], TaskStatus::kFailed, attempt == 1, 3,
                "exit status 3: took " + std::to_string(10 + attempt) + " ms");
    }
    if (attempt == 1) {
      for (int i : {0, 3}) shard.Succeed(&b, i, ids[i]);
    }
    MustApply(s, b);
  }
  TestWriter finalize(s, wf, pr::Role::kFinalize, 0);
  Batch f = finalize.NewBatch();
  finalize.Commit(&f, WorkflowStatus::kFailed);
  BOOST_REQUIRE(ToString(MustApply(s, f).state.status) == std::string("failed"));
  return ids;
}

inline std::string TaskLine(StoreHarness& h, int64_t ordinal) {
  return h
      .QueryOne(
          "SELECT status || ' ' || final || ' ' || failures || ' ' || attempts FROM "
          "task_states WHERE ordinal = " +
          std::to_string(ordinal))
      .value_or("none");
}

inline void RequeueMakesFailedTasksPending(StoreHarness& h) {
  StateStore& s = h.store();
  const std::string wf = "requeue";
  const std::vector<std::string> ids = FailedWorkflow(s, wf);
  const std::string final_true = h.postgres() ? "true" : "1";
  const std::string final_false = h.postgres() ? "false" : "0";
  BOOST_TEST(TaskLine(h, 1) == "failed " + final_true + " 2 2");

  const RequeueResult r = Must(s.Requeue(wf, RequeueRequest()), "Requeue");
  BOOST_TEST(r.requeued == 2);
  BOOST_TEST(ToString(r.before.status) == std::string("failed"));
  CheckCounts(r.before.counts, Counts(2, 2, 0, 0, 0));
  BOOST_TEST(ToString(r.after.status) == std::string("running"));
  CheckCounts(r.after.counts, Counts(2, 0, 0, 2, 0));
  BOOST_TEST(r.after.version > r.before.version);
  // Pending with a fresh budget; the attempts and their history stay.
  BOOST_TEST(TaskLine(h, 1) == "pending " + final_false + " 0 2");
  BOOST_TEST(TaskLine(h, 2) == "pending " + final_false + " 0 2");
  BOOST_TEST(Must(s.LoadTaskHistory(wf, ids[1]), "history").attempts.size() == 2u);
  // What the store holds agrees: the workflow row, the shard counts, no longer
  // finished, so gc leaves it.
  const WorkflowState stored = Must(s.LoadWorkflowState(wf), "state");
  BOOST_TEST(ToString(stored.status) == std::string("running"));
  CheckCounts(stored.counts, Counts(2, 0, 0, 2, 0));
  BOOST_TEST(Must(s.LoadShard(wf, 0), "shard").restore.final_failures == 0);
  BOOST_TEST(Must(s.DeleteFinishedBefore(NowMillis() + 3600 * 1000), "gc").empty());
  // Now it has tasks to run, so a second requeue is refused; forced, it finds
  // nothing left that failed for good.
  BOOST_TEST(s.Requeue(wf, RequeueRequest()).status().IsInvalidArgument());
  RequeueRequest forced;
  forced.force = true;
  BOOST_TEST(Must(s.Requeue(wf, forced), "again").requeued == 0);
}

inline void RequeueOfListedTasksIsAllOrNothing(StoreHarness& h) {
  StateStore& s = h.store();
  const std::string wf = "requeue";
  const std::vector<std::string> ids = FailedWorkflow(s, wf);
  const std::string before = h.QueryOne("SELECT version FROM workflow_states").value_or("");
  RequeueRequest request;
  for (const std::vector<std::string>& listed :
       {std::vector<std::string>{ids[1], "no-such-task"}, {ids[1], ids[0]}}) {
    request.task_ids = listed;
    const Status refused = s.Requeue(wf, request).status();
    BOOST_TEST(refused.IsInvalidArgument(), refused.ToString());
    BOOST_TEST(refused.message().find("'" + listed[1] + "'") != std::string::npos);
    // Rolled back: the first listed task is still failed, the row unchanged.
    BOOST_TEST(TaskLine(h, 1).rfind("failed ", 0) == 0);
    BOOST_TEST(h.QueryOne("SELECT version FROM workflow_states").value_or("") == before);
  }
  request.task_ids = std::vector<std::string>{ids[2]};
  const RequeueResult r = Must(s.Requeue(wf, request), "one task");
  BOOST_TEST(r.requeued == 1);
  CheckCounts(r.after.counts, Counts(2, 1, 0, 1, 0));
  BOOST_TEST(TaskLine(h, 1).rfind("failed ", 0) == 0);
  BOOST_TEST(TaskLine(h, 2).rfind("pending ", 0) == 0);
  BOOST_TEST(s.Requeue("no-such-workflow", RequeueRequest()).status().IsNotFound());
}

// A workflow with tasks still to run is refused unless forced.
inline void RequeueRefusesARunningWorkflowUnlessForced(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "busy", TaskIds(2), 2);
  TestWriter shard(s, wf, pr::Role::kShard, 0);
  Batch b = shard.NewBatch();
  shard.Start(&b, 0, ids[0]);
  shard.End(&b, 0, ids[0], TaskStatus::kFailed, true, 1, "boom");
  MustApply(s, b);
  const std::string before = h.QueryOne("SELECT version FROM workflow_states").value_or("");
  const Status refused = s.Requeue(wf, RequeueRequest()).status();
  BOOST_TEST(refused.IsInvalidArgument());
  BOOST_TEST(refused.message().find("1 pending") != std::string::npos, refused.message());
  BOOST_TEST(h.QueryOne("SELECT version FROM workflow_states").value_or("") == before);
  RequeueRequest forced;
  forced.force = true;
  BOOST_TEST(Must(s.Requeue(wf, forced), "forced").requeued == 1);
}

// A quarantined task (docs/protocol.md, "Quarantine") counts as failed for
// good, keeps its failure streak for the next restore, stays quarantined
// through a re-init (a resubmission) and becomes pending, streak cleared, only
// by a requeue of quarantined tasks.
inline void QuarantineIsKeptUntilRequeued(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "quarantine", TaskIds(3), 3);
  {
    TestWriter shard(s, wf, pr::Role::kShard, 0);
    Batch b = shard.NewBatch();
    shard.Succeed(&b, 0, ids[0]);
    shard.Start(&b, 1, ids[1]);
    shard.End(&b, 1, ids[1], TaskStatus::kQuarantined, true, 1, "exited with code 1: boom");
    b.ends.back().fingerprint = "1:exited with code <n>: boom";
    b.ends.back().fingerprint_streak = 3;
    shard.Start(&b, 2, ids[2]);
    shard.End(&b, 2, ids[2], TaskStatus::kFailed, false, 2, "exited with code 2: other");
    b.ends.back().fingerprint = "2:exited with code <n>: other";
    b.ends.back().fingerprint_streak = 1;
    CheckCounts(MustApply(s, b).state.counts, Counts(1, 1, 0, 1, 0));
  }
  auto restored = [&](int ordinal) {
    return Must(s.LoadShard(wf, 0), "shard").restore.tasks.at(static_cast<size_t>(ordinal));
  };
  // Not toward the shards' early stop (a resubmission leaves it quarantined:
  // it would spend every later run's budget), but in finalize's verdict.
  BOOST_TEST(Must(s.LoadShard(wf, 0), "shard").restore.final_failures == 0);
  BOOST_TEST(ToString(restored(1).status) == std::string("quarantined"));
  BOOST_TEST(restored(1).final);
  BOOST_TEST(restored(1).failures == 1);
  BOOST_TEST(restored(1).fingerprint == "1:exited with code <n>: boom");
  BOOST_TEST(restored(1).fingerprint_streak == 3);
  BOOST_TEST(restored(2).fingerprint == "2:exited with code <n>: other");
  BOOST_TEST(restored(2).fingerprint_streak == 1);
  BOOST_TEST(restored(0).fingerprint.empty());
  TaskQuery quarantined;
  quarantined.status = TaskStatus::kQuarantined;
  const TaskPage page = Must(s.ListTasks(wf, quarantined), "ListTasks quarantined");
  BOOST_REQUIRE_EQUAL(page.tasks.size(), 1u);
  BOOST_TEST(page.tasks[0].task_id == ids[1]);
  const protocol::WorkflowSummary summary = Must(s.LoadSummary(wf), "summary");
  BOOST_REQUIRE_EQUAL(summary.failed.size(), 1u);
  BOOST_TEST(summary.failed[0].task_id == ids[1]);

  // A resubmission reopens the failure but not the quarantined task.
  InitWorkflow(s, wf, ids, 3);
  BOOST_TEST(ToString(restored(1).status) == std::string("quarantined"));
  BOOST_TEST(ToString(restored(2).status) == std::string("pending"));
  BOOST_TEST(restored(2).fingerprint_streak == 1);  // the streak goes on across runs
  BOOST_TEST(Must(s.LoadShard(wf, 0), "shard").restore.final_failures == 0);
  BOOST_TEST(Must(s.LoadSummary(wf), "summary after re-init").failed_total == 1);

  // Requeue takes only what it is asked for.
  RequeueRequest failed;
  failed.force = true;  // task 2 is still to run
  BOOST_TEST(Must(s.Requeue(wf, failed), "requeue failed").requeued == 0);
  RequeueRequest wrong;
  wrong.force = true;
  wrong.task_ids = std::vector<std::string>{ids[1]};  // quarantined, not failed for good
  const Status refused = s.Requeue(wf, wrong).status();
  BOOST_TEST(refused.IsInvalidArgument(), refused.ToString());
  BOOST_TEST(Contains(refused.message(), "is not failed for good"), refused.message());
  RequeueRequest either = wrong;
  either.status = std::nullopt;
  either.task_ids = std::vector<std::string>{ids[0]};  // succeeded
  BOOST_TEST(Contains(s.Requeue(wf, either).status().message(),
                      "is not failed for good or quarantined"));
  RequeueRequest requeue;
  requeue.force = true;
  requeue.status = TaskStatus::kQuarantined;
  const RequeueResult r = Must(s.Requeue(wf, requeue), "requeue quarantined");
  BOOST_TEST(r.requeued == 1);
  CheckCounts(r.after.counts, Counts(1, 0, 0, 2, 0));
  BOOST_TEST(ToString(restored(1).status) == std::string("pending"));
  BOOST_TEST(!restored(1).final);
  BOOST_TEST(restored(1).failures == 0);
  BOOST_TEST(restored(1).fingerprint.empty());
  BOOST_TEST(restored(1).fingerprint_streak == 0);
  BOOST_TEST(Must(s.LoadShard(wf, 0), "shard").restore.final_failures == 0);
}

}  // namespace taskmaster::sidecar::conformance

#endif  // TASKMASTER_TESTS_SIDECAR_STORE_REQUEUE_CONFORMANCE_H_
