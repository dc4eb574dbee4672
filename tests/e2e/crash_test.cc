// Crashes and stops of a pod's containers (DESIGN.md §1, §9; issue 4): a
// sidecar killed with -9 mid-flush and restarted on its work dir, a SIGTERM
// with 10,000 records pending, and pod deletion (SIGTERM to both at once).
// Afterwards the store holds every record exactly once.
#include <signal.h>

#include <boost/test/unit_test.hpp>

#include "harness.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {
namespace {

namespace pr = protocol;

// task_id|status|attempts|generation|progress_done for each task, by ordinal.
std::string TaskRows(const std::string& db, const std::string& key) {
  return Sqlite(db,
                "SELECT task_id, status, attempts, generation, progress_done FROM task_states "
                "WHERE workflow_id = '" +
                    key + "' ORDER BY ordinal");
}

// fence|seq of the shard's fence row.
std::string FenceRow(const std::string& db, const std::string& key, int64_t shard = 0) {
  return Sqlite(db, "SELECT fence, seq FROM fences WHERE workflow_id = '" + key +
                        "' AND role = 'shard' AND shard = " + std::to_string(shard));
}

// The task of ordinal `busy` emits `first` checkpoint+progress pairs, then (when
// total > first) waits for the file $GATE and emits up to `total`; the other
// tasks emit `others`.
std::vector<std::string> EmittingTask(int busy, int first, int total, int others) {
  std::string script = R"(emit() {
  while [ $i -lt $1 ]; do
    i=$((i+1)); printf '{"checkpoint":{"i":%d}}\n{"progress":{"done":%d,"total":%d}}\n' $i $i $1
  done >&3
}
i=0
if [ "$TM_TASK_INDEX" != )" +
                       std::to_string(busy) + R"( ]; then emit )" + std::to_string(others) +
                       R"(; exit 0; fi
emit )" + std::to_string(first) +
                       "\n";
  if (total > first) {
    script += "while [ ! -e \"$GATE\" ]; do sleep 0.01; done\nemit " + std::to_string(total) + "\n";
  }
  return Sh(script);
}

BOOST_FIXTURE_TEST_SUITE(crash, SqliteFixture)

BOOST_AUTO_TEST_CASE(kill_9_of_the_sidecar_mid_flush_then_a_restart_loses_and_doubles_nothing) {
  Workflow wf = InitWorkflow("kill9", {"t-1", "t-2"}, 2);

  // Local mode: the work dir outlives the sidecar (acks are fsynced).
  PodSpec spec = wf.Spec("shard");
  spec.local = true;
  spec.env["GATE"] = tmp / "gate";
  Pod pod(wf.NewPodDir("shard"), spec);
  pod.StartSidecar();
  // t-1 ends (durably) before the kill; t-2 is busy across it.
  pod.StartStep({"run"}, EmittingTask(1, 1500, 3000, 5));

  // Kill it while it is busy flushing the first 3,000 records.
  BOOST_REQUIRE_MESSAGE(WaitUntil([&] { return pod.AckedSeq() >= 400; }, milliseconds(20000)),
                        pod.Logs());
  pod.sidecar().Signal(SIGKILL);
  BOOST_REQUIRE_EQUAL(pod.sidecar().Wait(milliseconds(5000)).value_or(-1), 128 + SIGKILL);
  const int64_t acked_at_kill = pod.AckedSeq();
  BOOST_TEST_MESSAGE("killed with " << acked_at_kill << " records acknowledged");

  // The step goes on without a sidecar; records pile up in the journal.
  WriteFile(tmp / "gate", "");
  BOOST_REQUIRE(WaitUntil(
      [&] { return ReadJournal(pod.work(pr::kJournalFile)).max_seq > acked_at_kill + 2000; },
      milliseconds(20000)));

  // A new sidecar on the same work dir adopts `ready` and resumes from `ack`.
  pod.StartSidecar();
  BOOST_REQUIRE_MESSAGE(pod.WaitStep() == 0, pod.Logs());
  BOOST_REQUIRE_EQUAL(pod.StopSidecar(), 0);
  BOOST_CHECK_MESSAGE(pod.sidecar().err().find("adopted the work dir") != std::string::npos,
                      pod.Logs());

  const std::string key = wf.key();
  const JournalSummary journal = ReadJournal(pod.work(pr::kJournalFile));
  BOOST_CHECK_GT(journal.commit_seq, 0);
  // Not bumped by the restart (it must not fence out its own step), and every
  // record of the journal applied.
  BOOST_CHECK_EQUAL(FenceRow(db, key), "1|" + std::to_string(journal.max_seq) + "\n");
  BOOST_CHECK_EQUAL(TaskRows(db, key), "t-1|succeeded|1|5|5\nt-2|succeeded|1|3000|3000\n");
  // One generation per checkpoint emitted; the backup rotated exactly once per generation.
  BOOST_CHECK_EQUAL(Sqlite(db,
                           "SELECT task_id, generation, backup_generation FROM checkpoints "
                           "WHERE workflow_id = '" +
                               key + "' ORDER BY task_id"),
                    "t-1|5|4\nt-2|3000|2999\n");
  const std::string document = Sqlite(
      db, "SELECT document FROM checkpoints WHERE workflow_id = '" + key + "' AND task_id = 't-2'");
  WriteFile(tmp / "ck.json", document);
  ShellResult show =
      Shell(std::string(kStepBinary) + " checkpoint show " + ShellQuote(tmp / "ck.json"));
  BOOST_CHECK_EQUAL(show.exit_code, 0);
  BOOST_CHECK_EQUAL(show.out, "{\"i\":3000}\n");
  BOOST_CHECK_EQUAL(Sqlite(db,
                           "SELECT total, succeeded, failed, running, pending FROM "
                           "workflow_states WHERE workflow_id = '" +
                               key + "'"),
                    "2|2|0|0|0\n");
  // Argo's view survived the restart too.
  BOOST_CHECK_EQUAL(ReadFile(pod.progress_file()), "2/2\n");
  BOOST_CHECK(ReadFile(pod.work("outputs/summary")).find("\"durable\":true") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sigterm_with_10000_records_pending_flushes_them_all_and_exits_0) {
  Workflow wf = InitWorkflow("pending", {"t-1"}, 1);

  Pod pod(wf.NewPodDir("shard"), wf.Spec("shard"));
  pod.StartSidecar();
  pod.WaitReady();
  pod.sidecar().Signal(SIGSTOP);
  pod.StartStep({"run"}, EmittingTask(0, 5000, 5000, 0));
  // The step writes its 10,000 records and its commit record, then waits at the barrier.
  BOOST_REQUIRE_MESSAGE(
      WaitUntil([&] { return ReadJournal(pod.work(pr::kJournalFile)).commit_seq > 0; },
                milliseconds(30000)),
      pod.Logs());
  const JournalSummary journal = ReadJournal(pod.work(pr::kJournalFile));
  BOOST_CHECK_GE(journal.records, 10003);
  BOOST_CHECK_EQUAL(pod.AckedSeq(), 0);

  // Argo's SIGTERM reaches a sidecar that has all of it still to do.
  const auto t0 = std::chrono::steady_clock::now();
  pod.sidecar().Signal(SIGTERM);
  pod.sidecar().Signal(SIGCONT);
  const int sidecar = pod.sidecar().Wait(milliseconds(30000)).value_or(-1);
  const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
  BOOST_TEST_MESSAGE("flushed 10,000 records after SIGTERM in " << took.count() << " ms");
  BOOST_CHECK_MESSAGE(sidecar == 0, pod.Logs());
  BOOST_CHECK_MESSAGE(pod.WaitStep() == 0, pod.Logs());  // it got the ack of its commit

  const std::string key = wf.key();
  BOOST_CHECK_EQUAL(FenceRow(db, key), "1|" + std::to_string(journal.max_seq) + "\n");
  BOOST_CHECK_EQUAL(TaskRows(db, key), "t-1|succeeded|1|5000|5000\n");
  BOOST_CHECK_EQUAL(
      Sqlite(db, "SELECT generation FROM checkpoints WHERE workflow_id = '" + key + "'"), "5000\n");
}

BOOST_AUTO_TEST_CASE(pod_deletion_commits_everything_the_step_wrote_before_its_commit) {
  Workflow wf = InitWorkflow("deletion", {"t-1", "t-2", "t-3"}, 3);

  PodSpec spec = wf.Spec("shard");
  spec.env["STARTED"] = tmp / "third-started";
  Pod pod(wf.NewPodDir("shard"), spec);
  pod.StartSidecar();
  pod.StartStep({"run"}, Sh(R"(
printf '{"checkpoint":{"task":%d}}\n' "$TM_TASK_INDEX" >&3
if [ "$TM_TASK_INDEX" = 2 ]; then : > "$STARTED"; exec sleep 60; fi)"));
  BOOST_REQUIRE_MESSAGE(
      WaitUntil([&] { return FileExists(tmp / "third-started"); }, milliseconds(20000)),
      pod.Logs());

  // The pod is deleted: both containers get SIGTERM at the same moment.
  pod.step().Signal(SIGTERM);
  pod.sidecar().Signal(SIGTERM);
  const int step = pod.WaitStep();
  const int sidecar = pod.sidecar().Wait(milliseconds(30000)).value_or(-1);
  BOOST_CHECK_MESSAGE(step == pr::kExitFailed, "step exited " << step << "\n" << pod.Logs());
  BOOST_CHECK_MESSAGE(sidecar == 0, "sidecar exited " << sidecar << "\n" << pod.Logs());

  const std::string key = wf.key();
  const JournalSummary journal = ReadJournal(pod.work(pr::kJournalFile));
  BOOST_REQUIRE_GT(journal.commit_seq, 0);
  BOOST_CHECK_EQUAL(journal.commit_seq, journal.max_seq);
  BOOST_CHECK_EQUAL(FenceRow(db, key), "1|" + std::to_string(journal.commit_seq) + "\n");
  BOOST_CHECK_EQUAL(Sqlite(db,
                           "SELECT task_id, status, generation FROM task_states WHERE "
                           "workflow_id = '" +
                               key + "' ORDER BY ordinal"),
                    "t-1|succeeded|1\nt-2|succeeded|1\nt-3|interrupted|1\n");
  BOOST_CHECK_EQUAL(ReadFile(pod.progress_file()), "2/3\n");
}

BOOST_AUTO_TEST_CASE(a_step_killed_before_its_commit_leaves_a_sidecar_that_flushes_and_exits_0) {
  Workflow wf = InitWorkflow("no-commit", {"t-1", "t-2"}, 2);

  // Grace 3 s: the sidecar waits at most 1 s for a commit record after SIGTERM.
  PodSpec spec = wf.Spec("shard");
  spec.env["TM_GRACE_SECONDS"] = "3";
  spec.env["GATE"] = tmp / "gate";
  Pod pod(wf.NewPodDir("shard"), spec);
  pod.StartSidecar();
  pod.StartStep({"run"}, EmittingTask(1, 100, 200, 3));
  BOOST_REQUIRE_MESSAGE(
      WaitUntil(
          [&] { return ReadJournal(pod.work(pr::kJournalFile)).records >= 2 + 3 + 2 + 1 + 200; },
          milliseconds(20000)),
      pod.Logs());
  // The step dies (OOM-killed, say) and never writes its commit record.
  pod.step().Signal(SIGKILL);
  BOOST_REQUIRE_EQUAL(pod.WaitStep(), 128 + SIGKILL);
  const JournalSummary journal = ReadJournal(pod.work(pr::kJournalFile));
  BOOST_REQUIRE_EQUAL(journal.commit_seq, 0);

  const auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK_EQUAL(pod.StopSidecar(), 0);
  const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
  BOOST_CHECK_MESSAGE(took < milliseconds(2500), "took " << took.count() << " ms after SIGTERM");
  BOOST_CHECK_MESSAGE(
      pod.sidecar().err().find("stopping before the step's commit record") != std::string::npos,
      pod.Logs());
  // Everything the journal holds is durable; no outputs (the step never committed).
  BOOST_CHECK_EQUAL(FenceRow(db, wf.key()), "1|" + std::to_string(journal.max_seq) + "\n");
  BOOST_CHECK_EQUAL(TaskRows(db, wf.key()), "t-1|succeeded|1|3|3\nt-2|running|1|100|100\n");
  BOOST_CHECK(!FileExists(pod.work("outputs/summary")));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
