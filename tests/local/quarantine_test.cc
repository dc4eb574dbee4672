// Quarantine of poison tasks (docs/protocol.md, "Quarantine"), end to end in
// tm-step local on SQLite: with --quarantine-after 3 and --retries 5, a task
// that fails the same way three times in a row is quarantined after its third
// attempt (not its sixth), while a task failing a different way each time
// spends its retries and succeeds: a quarantined task does not cancel the rest
// of the run (no --continue-on-error, --max-failures 0), but it fails the
// workflow at its end. A resubmission leaves the quarantined task
// alone; `requeue --status quarantined` makes it pending, and the next run
// under the same state key runs it.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "local_harness.h"

namespace taskmaster::local_test {
namespace {

constexpr milliseconds kRunTimeout(60000);

// poison: the same error every time until $MARKER exists. flaky: exit code
// 10 + its earlier runs (a new fingerprint each attempt) until its fourth run.
std::vector<std::string> Args(const std::string& state_dir) {
  return {"--task-list",
          JsonList({"poison", "flaky", "fine"}),
          "--state-dir",
          state_dir,
          "--sidecar",
          kSidecarBinary,
          "--backoff",
          "0",
          "--state-key",
          "quarantine",
          "--retries",
          "5",
          "--quarantine-after",
          "3",
          "--",
          "/bin/sh",
          "-c",
          R"(echo "$TM_TASK_ID" >> "$RUNS"
case "$TM_TASK_ID" in
  poison) [ -e "$MARKER" ] || { echo "cannot parse row 17 of /data/in.csv" >&2; exit 3; } ;;
  flaky) n=$(grep -c flaky "$RUNS"); [ "$n" -ge 4 ] || exit $((10 + n)) ;;
esac)"};
}

int64_t Runs(const std::string& runs_file, const std::string& task) {
  const std::vector<std::string> runs = Lines(ReadFile(runs_file));
  return std::count(runs.begin(), runs.end(), task);
}

BOOST_AUTO_TEST_SUITE(quarantine)

BOOST_AUTO_TEST_CASE(a_poison_task_is_quarantined_and_runs_again_only_once_requeued) {
  TempDir dir;
  const std::string state = dir / "state";
  const std::string runs = dir / "runs";
  const EnvVars env = {{"RUNS", runs}, {"MARKER", dir / "marker"}};
  Outcome run = RunToEnd(Args(state), env, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(run.code == 1, "exit " << run.code << "\n" << run.out << run.err);
  BOOST_CHECK_EQUAL(Runs(runs, "poison"), 3);  // quarantined on its third failure, not its sixth
  // The summary says how to send quarantined tasks back.
  BOOST_CHECK_MESSAGE(Contains(run.out, "requeue --store sqlite:" + state +
                                            "/state.db quarantine --status quarantined"),
                      run.out);
  BOOST_CHECK_EQUAL(Runs(runs, "flaky"), 4);   // three different failures, then success
  BOOST_CHECK_EQUAL(Runs(runs, "fine"), 1);
  BOOST_CHECK_EQUAL(StateDbRows(state,
                                "SELECT task_id, status, final, failures, fingerprint_streak FROM "
                                "task_states ORDER BY ordinal"),
                    "poison quarantined 1 3 3\nflaky succeeded 0 3 0\nfine succeeded 0 0 0\n");
  // Counted as failed for good: the workflow failed, over --max-failures 0.
  BOOST_CHECK_EQUAL(StateDbRows(state, "SELECT status, failed, succeeded FROM workflow_states"),
                    "failed 1 2\n");
  BOOST_CHECK_EQUAL(StateDbRows(state, "SELECT quarantine_after FROM workflow_states"), "3\n");

  Outcome listed = SidecarOnStateDir(state, "tasks quarantine --status quarantined -o jsonl");
  BOOST_CHECK_EQUAL(listed.code, 0);
  BOOST_CHECK_EQUAL(Lines(listed.out).size(), 1u);
  BOOST_CHECK_MESSAGE(Contains(listed.out, R"("task_id":"poison","status":"quarantined")"),
                      listed.out);
  Outcome exported = SidecarOnStateDir(state, "export-failed quarantine");
  BOOST_CHECK_EQUAL(exported.code, 0);
  BOOST_CHECK_MESSAGE(
      Contains(exported.out,
               R"({"task":"poison","ordinal":0,)"
               R"("status":"quarantined","attempts":3,"failures":3,)"
               R"("fingerprint":"3:exited with code <n>: cannot parse row <n> of <path>")"),
      exported.out);

  // A resubmission does not run it again: it is still quarantined.
  run = RunToEnd(Args(state), env, dir.path(), kRunTimeout);
  BOOST_CHECK_MESSAGE(run.code == 1, "exit " << run.code << "\n" << run.out << run.err);
  BOOST_CHECK_EQUAL(Runs(runs, "poison"), 3);
  BOOST_CHECK_EQUAL(StateDbRows(state, "SELECT status FROM task_states WHERE ordinal = 0"),
                    "quarantined\n");

  // requeue without --status takes tasks that failed for good: there are none.
  Outcome failed_only = SidecarOnStateDir(state, "requeue quarantine");
  BOOST_CHECK_EQUAL(failed_only.code, 0);
  BOOST_CHECK_EQUAL(failed_only.out,
                    "workflow quarantine is failed: no task is failed for good; nothing to "
                    "requeue\n");
  Outcome requeued = SidecarOnStateDir(state, "requeue quarantine --status quarantined");
  BOOST_CHECK_EQUAL(requeued.code, 0);
  BOOST_CHECK_MESSAGE(Contains(requeued.out, "1 tasks are pending again (poison)"), requeued.out);
  BOOST_CHECK_EQUAL(StateDbRows(state,
                                "SELECT status, final, failures, coalesce(fingerprint, 'none'), "
                                "fingerprint_streak FROM task_states WHERE ordinal = 0"),
                    "pending 0 0 none 0\n");

  WriteFile(dir / "marker", "");
  run = RunToEnd(Args(state), env, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.out << run.err);
  BOOST_CHECK_EQUAL(Runs(runs, "poison"), 4);
  BOOST_CHECK_EQUAL(Runs(runs, "flaky"), 4);
  BOOST_CHECK_EQUAL(StateDbRows(state, "SELECT status, succeeded FROM workflow_states"),
                    "succeeded 3\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::local_test
