// export-failed and requeue around a resubmission: a task that fails for good
// while a marker file is missing is exported, requeued (first --dry-run, which
// changes nothing), and once the marker exists the same tm-step local command
// under the same state key runs it again, and it succeeds; the attempt
// history keeps every attempt.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "local_harness.h"

namespace taskmaster::local_test {
namespace {

constexpr milliseconds kRunTimeout(60000);

std::vector<std::string> Args(const std::string& state_dir) {
  return {"--task-list", JsonList({"needs-marker", "fine"}),
          "--state-dir", state_dir,
          "--sidecar",   kSidecarBinary,
          "--backoff",   "0",
          "--state-key", "requeued",
          "--retries",   "1",
          "--",          "/bin/sh",
          "-c",          R"(echo "$TM_TASK_ID" >> "$RUNS"
                   [ "$TM_TASK_ID" = fine ] || [ -e "$MARKER" ] || { echo "no marker at $MARKER" >&2; exit 3; })"};
}

BOOST_AUTO_TEST_SUITE(requeue)

BOOST_AUTO_TEST_CASE(a_requeued_task_runs_again_on_resubmission_and_succeeds) {
  TempDir dir;
  const std::string state = dir / "state";
  const EnvVars env = {{"RUNS", dir / "runs"}, {"MARKER", dir / "marker"}};
  Outcome run = RunToEnd(Args(state), env, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(run.code == 1, "exit " << run.code << "\n" << run.out << run.err);

  Outcome exported = SidecarOnStateDir(state, "export-failed requeued");
  BOOST_REQUIRE_EQUAL(exported.code, 0);
  BOOST_CHECK_MESSAGE(
      Contains(exported.out, R"({"task":"needs-marker","ordinal":0,)"
                             R"("status":"failed","attempts":2,"failures":2,)"
                             R"("fingerprint":"3:exited with code <n>: no marker at <path>",)"
                             R"("exit_code":3,"last_error":)"),
      exported.out);
  BOOST_CHECK_EQUAL(Lines(exported.out).size(), 1u);
  WriteFile(dir / "failed.jsonl", exported.out);

  const std::string before =
      StateDbRows(state, "SELECT status, failed, version FROM workflow_states");
  Outcome dry =
      SidecarOnStateDir(state, "requeue requeued --from " + dir / "failed.jsonl" + " --dry-run");
  BOOST_CHECK_EQUAL(dry.code, 0);
  BOOST_CHECK_EQUAL(dry.out,
                    "workflow requeued is failed: 1 tasks would become pending (needs-marker); "
                    "it would become running; nothing changed (--dry-run)\n");
  BOOST_CHECK_EQUAL(StateDbRows(state, "SELECT status, failed, version FROM workflow_states"),
                    before);

  Outcome requeued = SidecarOnStateDir(state, "requeue requeued --from " + dir / "failed.jsonl");
  BOOST_CHECK_EQUAL(requeued.code, 0);
  BOOST_CHECK_EQUAL(requeued.out,
                    "workflow requeued was failed: 1 tasks are pending again (needs-marker); it "
                    "is running now; resubmit under the same state key to run them\n");
  BOOST_CHECK_EQUAL(
      StateDbRows(state,
                  "SELECT task_id, status, final, failures, attempts FROM task_states ORDER BY "
                  "ordinal"),
      "needs-marker pending 0 0 2\nfine succeeded 0 0 1\n");
  BOOST_CHECK_EQUAL(StateDbRows(state, "SELECT status, failed, pending FROM workflow_states"),
                    "running 0 1\n");

  WriteFile(dir / "marker", "");
  run = RunToEnd(Args(state), env, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.out << run.err);
  // Two failed runs, then the one after the requeue; "fine" did not run again.
  const std::vector<std::string> runs = Lines(ReadFile(dir / "runs"));
  BOOST_CHECK_EQUAL(std::count(runs.begin(), runs.end(), "needs-marker"), 3);
  BOOST_CHECK_EQUAL(std::count(runs.begin(), runs.end(), "fine"), 1);
  BOOST_CHECK_EQUAL(StateDbRows(state, "SELECT status, succeeded FROM workflow_states"),
                    "succeeded 2\n");
  BOOST_CHECK_EQUAL(StateDbRows(state, "SELECT count(*) FROM task_attempts WHERE ordinal = 0"),
                    "3\n");
  BOOST_CHECK_EQUAL(SidecarOnStateDir(state, "export-failed requeued").out, "");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::local_test
