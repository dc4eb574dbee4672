// tm-step local's one tm-sidecar for the whole run (executor/local/sidecar_server.h,
// sidecar/pod_server.h): it serves every pod, logs each pod's lines to the
// pod's own log, and when it dies a new one takes over without losing anything.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "local_harness.h"

namespace taskmaster::local_test {
namespace {

constexpr milliseconds kRunTimeout(60000);

int CountLines(const std::string& text, const std::string& part) {
  int n = 0;
  for (const auto& line : Lines(text)) n += Contains(line, part) ? 1 : 0;
  return n;
}

std::vector<std::string> Args(const std::string& state_dir, const std::vector<std::string>& ids,
                              int parallelism, const std::vector<std::string>& command) {
  std::vector<std::string> args = {
      "--task-list",  JsonList(ids),  "--state-dir", state_dir,       "--sidecar",
      kSidecarBinary, "--batch-size", "1",           "--parallelism", std::to_string(parallelism),
      "--backoff",    "0.05",         "--"};
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

BOOST_AUTO_TEST_SUITE(sidecar_server)

BOOST_AUTO_TEST_CASE(one_tm_sidecar_serves_every_pod_of_the_run) {
  TempDir dir;
  const auto ids = TaskIds(6);
  const Outcome run =
      RunToEnd(Args(dir / "state", ids, 2, {"/bin/sh", "-c", "echo \"$TM_TASK_ID\" >> \"$RUNS\""}),
               {{"RUNS", dir / "runs"}}, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.err);
  BOOST_CHECK_EQUAL(Lines(ReadFile(dir / "runs")).size(), 6u);
  // Init, six shards and finalize: eight pods, one tm-sidecar process.
  const std::string own = ReadFile(dir / "state/logs/tm-sidecar.log");
  BOOST_CHECK_EQUAL(CountLines(own, "serving the sidecars of this run's pods"), 1);
  // Each pod's sidecar still logs to the pod's own log.
  for (int shard = 0; shard < 6; ++shard) {
    const std::string log =
        ReadFile(dir / ("state/logs/" + std::to_string(shard) + "/tm-sidecar.log"));
    BOOST_CHECK_MESSAGE(Contains(log, "restored shard " + std::to_string(shard) + " of workflow"),
                        "logs/" << shard << "/tm-sidecar.log: " << log);
  }
  BOOST_CHECK(Contains(ReadFile(dir / "state/logs/init/tm-sidecar.log"), "restored init 0"));
  BOOST_CHECK(ListDir(dir / "state/work").empty());
}

BOOST_AUTO_TEST_CASE(a_tm_sidecar_killed_mid_run_is_replaced_and_nothing_is_lost) {
  TempDir dir;
  const auto ids = TaskIds(6);
  // Task t002's first run kills the run's tm-sidecar (found by its port file,
  // which only this test's state dir has) with SIGKILL, then waits until it is
  // reaped: its step is stopped before the task ends, its journal drained by a
  // new tm-sidecar, and the shard runs again. One shard at a time, so no other
  // task is cut short.
  const std::string task =
      "echo \"$TM_TASK_ID $TM_ATTEMPT\" >> \"$RUNS\"; "
      "[ \"$TM_TASK_ID\" = t002 ] && [ ! -e \"$KILLED\" ] || exit 0; "
      "touch \"$KILLED\"; "
      "for p in /proc/[0-9]*; do "
      "  if tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q -- \"--port-file $PORT \"; then "
      "    kill -9 ${p#/proc/}; while [ -e $p ]; do sleep 0.01; done; "
      "  fi; "
      "done";
  const Outcome run = RunToEnd(Args(dir / "state", ids, 1, {"/bin/sh", "-c", task}),
                               {{"RUNS", dir / "runs"},
                                {"KILLED", dir / "killed"},
                                {"PORT", dir / "state/run/tm-sidecar.port"}},
                               dir.path(), kRunTimeout);
  BOOST_TEST_MESSAGE(run.out);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.err);
  BOOST_REQUIRE(FileExists(dir / "killed"));
  const std::string own = ReadFile(dir / "state/logs/tm-sidecar.log");
  BOOST_CHECK_GE(CountLines(own, "serving the sidecars of this run's pods"), 2);
  // Every task succeeded; only t002 ran twice.
  const auto runs = Lines(ReadFile(dir / "runs"));
  int t002 = 0;
  for (const auto& line : runs) t002 += line.rfind("t002 ", 0) == 0 ? 1 : 0;
  BOOST_CHECK_EQUAL(t002, 2);
  BOOST_CHECK_EQUAL(runs.size(), 7u);
  BOOST_CHECK(Contains(run.out, "succeeded        6"));
  BOOST_CHECK(ListDir(dir / "state/work").empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::local_test
