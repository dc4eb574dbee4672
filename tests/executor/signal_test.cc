// The stop paths of `tm-step run` (DESIGN.md §3, §6, §9): SIGTERM/SIGINT are
// forwarded to the task's process group, a task that ignores them is killed
// within the child budget, the barrier still runs, and all of it fits in
// grace - 5 s; ARGO_DEADLINE and the per-task timeout; a background child
// holding fd 3 cannot hang the shard.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fake_sidecar.h"
#include "shard_fixture.h"
#include "step_harness.h"
#include "taskmaster/env.h"
#include "taskmaster/protocol.h"
#include "taskmaster/state.h"
#include "taskmaster/time.h"

namespace taskmaster::step_test {
namespace {

namespace pr = protocol;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// The fixture's TM_GRACE_SECONDS is 8: the whole stop path has 3 s, the task
// 60% of it before SIGKILL.
constexpr milliseconds kStopBudget(3000);
constexpr milliseconds kChildStopBudget(1800);

milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

pid_t ReadPid(const std::string& path) {
  const std::string text = ReadFile(path);
  BOOST_REQUIRE_MESSAGE(!text.empty(), "no pid in " << path);
  return static_cast<pid_t>(std::stol(text));
}

bool IsCommit(const JournalRecord& r) {
  return r.type == static_cast<uint16_t>(pr::RecordType::kCommit);
}

BOOST_AUTO_TEST_SUITE(stop)

BOOST_AUTO_TEST_CASE(a_stop_signal_is_forwarded_and_the_barrier_still_waits) {
  for (int sig : {SIGTERM, SIGINT}) {
    const std::string name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    BOOST_TEST_CONTEXT(name) {
      ShardFixture f;
      // Holding every ack shows the step waits for the commit's ack after the
      // signal instead of exiting at once.
      FakeSidecar sidecar(f.work, FakeSidecar::HoldingAcks());
      f.Serve(&sidecar, ShardFixture::Shard({"patient", "next"}));
      auto step = f.StartSh(R"(
        trap 'echo TERM > "$OUT/term.tmp"; mv "$OUT/term.tmp" "$OUT/term"; exit 143' TERM
        echo started > "$OUT/started"
        sleep 30 & wait
      )");
      BOOST_REQUIRE_MESSAGE(WaitForFile(f.Out("started"), kStepTimeout),
                            "the task never started; stderr:\n"
                                << step->err());
      const auto signalled = Clock::now();
      BOOST_REQUIRE(::kill(step->pid(), sig) == 0);
      auto commit = sidecar.WaitForRecord(IsCommit, kStopBudget);
      BOOST_REQUIRE_MESSAGE(commit.has_value(), "no commit record; stderr:\n" << step->err());
      // The step waits in its barrier (up to the end of the stop budget), so it
      // is still there a while after the commit record.
      BOOST_CHECK_MESSAGE(!step->Wait(milliseconds(200)).has_value(),
                          "tm-step exited without waiting for the ack");
      sidecar.ReleaseAcks();
      BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitFailed);
      BOOST_CHECK_LT(Since(signalled).count(), kStopBudget.count());

      // The task's group got SIGTERM, whichever signal tm-step got.
      BOOST_CHECK_EQUAL(ReadFile(f.Out("term")), "TERM\n");
      auto starts = sidecar.TaskStarts();
      BOOST_CHECK_EQUAL(starts.size(), 1u);  // "next" stays pending for the next attempt
      auto ends = sidecar.TaskEnds();
      BOOST_REQUIRE_EQUAL(ends.size(), 1u);
      BOOST_CHECK(ends[0].status == TaskStatus::kInterrupted);
      BOOST_CHECK(!ends[0].final);
      BOOST_CHECK(ends[0].exit_code == std::optional<int>(143));
      BOOST_CHECK_MESSAGE(Contains(ends[0].error, name), ends[0].error);
      BOOST_CHECK(!FileExists(f.work + "/outputs/" + pr::kBarrierTimeoutFile));
      rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
      BOOST_CHECK(summary["durable"].GetBool());
      BOOST_CHECK(summary["stopped"].GetBool());
      BOOST_CHECK_EQUAL(summary["interrupted"].GetInt64(), 1);
      BOOST_CHECK_EQUAL(summary["not_run"].GetInt64(), 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_task_that_ignores_sigterm_is_killed_within_the_child_budget) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"stubborn"}));
  // An ignored signal stays ignored across fork and exec: sleep ignores it too.
  auto step = f.StartSh(R"(
    trap '' TERM
    sleep 30 &
    echo $! > "$OUT/sleep.pid"
    echo "waiting for sleep" >&2
    echo started > "$OUT/started"
    wait
  )");
  BOOST_REQUIRE_MESSAGE(WaitForFile(f.Out("started"), kStepTimeout),
                        "the task never started; stderr:\n"
                            << step->err());
  const pid_t sleeper = ReadPid(f.Out("sleep.pid"));
  const auto signalled = Clock::now();
  BOOST_REQUIRE(::kill(step->pid(), SIGTERM) == 0);
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitFailed);
  const milliseconds elapsed = Since(signalled);
  // SIGKILL comes after the child budget, not before, and the barrier after it
  // still fits in grace - 5 s.
  BOOST_CHECK_GE(elapsed.count(), kChildStopBudget.count() - 100);
  BOOST_CHECK_LT(elapsed.count(), kStopBudget.count());
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 1u);
  BOOST_CHECK(ends[0].status == TaskStatus::kInterrupted);
  BOOST_CHECK(ends[0].exit_code == std::optional<int>(128 + SIGKILL));
  // An interruption names the stop, not what the task last said.
  BOOST_CHECK_EQUAL(ends[0].error, "interrupted by SIGTERM");
  BOOST_CHECK(WaitUntil([&] { return ProcessIsDead(sleeper); }, milliseconds(1000)));
  rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK(summary["durable"].GetBool());
}

// A stop that arrives after the task exited (here, in the 100 ms fd-3 drain a
// background child keeps open) ends the drain; the task keeps its own outcome
// and is not run again as interrupted.
BOOST_AUTO_TEST_CASE(a_stop_after_the_task_exited_keeps_its_outcome) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"finished"}));
  auto step = f.StartSh(R"(
    sleep 30 &
    echo $$ > "$OUT/task.pid"
    echo done > "$OUT/done"
    exit 0
  )");
  BOOST_REQUIRE_MESSAGE(WaitForFile(f.Out("done"), kStepTimeout), "the task never ran; stderr:\n"
                                                                      << step->err());
  // The stop must come after the task's process exited (its background child
  // still holds fd 3), not while the shell is still between `echo` and `exit`.
  const pid_t task = ReadPid(f.Out("task.pid"));
  BOOST_REQUIRE_MESSAGE(WaitUntil([&] { return ProcessIsDead(task); }, kStepTimeout),
                        "the task's shell " << task << " never exited");
  BOOST_REQUIRE(::kill(step->pid(), SIGTERM) == 0);
  Finish(*step, sidecar);
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 1u);
  BOOST_CHECK(ends[0].status == TaskStatus::kSucceeded);
  BOOST_CHECK(ends[0].exit_code == std::optional<int>(0));
}

BOOST_AUTO_TEST_CASE(a_background_child_holding_fd3_cannot_hang_the_shard) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"leaky", "after"}));
  const auto started = Clock::now();
  auto step = f.StartSh(R"(
    [ "$TM_TASK_INDEX" = 0 ] || exit 0
    sleep 30 &
    echo $! > "$OUT/background.pid"
    echo started
  )");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  BOOST_CHECK_LT(Since(started).count(), 2000);
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 2u);
  BOOST_CHECK(ends[0].status == TaskStatus::kSucceeded);
  // The task ends when its process exits plus at most 100 ms of draining fd 3.
  BOOST_CHECK_LT(ends[0].duration_ms, 500);
  BOOST_CHECK(ends[1].status == TaskStatus::kSucceeded);
  const pid_t background = ReadPid(f.Out("background.pid"));
  BOOST_CHECK_MESSAGE(WaitUntil([&] { return ProcessIsDead(background); }, milliseconds(1000)),
                      "background child " << background << " still runs");
}

// The same bound for the task's stderr: a background child that keeps it open
// (but not fd 3) does not hold up the shard, and the line the task wrote last
// before exiting is still in its error.
BOOST_AUTO_TEST_CASE(a_background_child_holding_stderr_cannot_hang_the_shard) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"leaky", "after"}));
  const auto started = Clock::now();
  auto step = f.StartSh(R"(
    [ "$TM_TASK_INDEX" = 0 ] || exit 0
    sleep 30 3>&- &
    echo $! > "$OUT/background.pid"
    echo "gave up waiting for the queue" >&2
    exit 2
  )");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitFailed);
  BOOST_CHECK_LT(Since(started).count(), 2000);
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 2u);
  BOOST_CHECK(ends[0].status == TaskStatus::kFailed);
  BOOST_CHECK_EQUAL(ends[0].error, "exited with code 2: gave up waiting for the queue");
  // The task ends when its process exits plus at most 100 ms of draining.
  BOOST_CHECK_LT(ends[0].duration_ms, 500);
  BOOST_CHECK(ends[1].status == TaskStatus::kSucceeded);
  BOOST_CHECK(Contains(step->err(), "gave up waiting for the queue\n"));
  const pid_t background = ReadPid(f.Out("background.pid"));
  BOOST_CHECK_MESSAGE(WaitUntil([&] { return ProcessIsDead(background); }, milliseconds(1000)),
                      "background child " << background << " still runs");
}

BOOST_AUTO_TEST_CASE(a_task_over_its_timeout_fails_and_the_shard_goes_on) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"slow", "quick"}));
  const auto started = Clock::now();
  auto step =
      f.Start({"--task-timeout", "0.5", "--", "sh", "-c",
               R"([ "$TM_TASK_INDEX" = 1 ] || { echo "waiting for a lock" >&2; exec sleep 30; })"});
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitFailed);
  BOOST_CHECK_LT(Since(started).count(), 3000);
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 2u);
  BOOST_CHECK(ends[0].status == TaskStatus::kFailed);
  // The store recognises a timeout by this prefix; the task's last line follows.
  BOOST_CHECK_MESSAGE(ends[0].error.rfind("timed out after ", 0) == 0, ends[0].error);
  BOOST_CHECK_EQUAL(ends[0].error, "timed out after 0.5 s: waiting for a lock");
  BOOST_CHECK_GE(ends[0].duration_ms, 500);
  BOOST_CHECK_LT(ends[0].duration_ms, 1500);
  BOOST_CHECK(ends[1].status == TaskStatus::kSucceeded);
}

// ARGO_DEADLINE as Argo writes it, Go's time.RFC3339: whole seconds, "Z" or
// an offset from UTC.
std::string ArgoTime(int64_t unix_seconds, int offset_minutes) {
  const std::string utc = FormatRfc3339Millis((unix_seconds + offset_minutes * 60) * 1000);
  if (offset_minutes == 0) return utc.substr(0, 19) + "Z";
  char zone[16];
  std::snprintf(zone, sizeof(zone), "%c%02d:%02d", offset_minutes < 0 ? '-' : '+',
                std::abs(offset_minutes) / 60, std::abs(offset_minutes) % 60);
  return utc.substr(0, 19) + zone;
}

BOOST_AUTO_TEST_CASE(the_step_stops_in_time_before_argo_deadline) {
  for (int offset_minutes : {0, 120}) {
    BOOST_TEST_CONTEXT("offset " << offset_minutes << " min") {
      ShardFixture f;
      // The stop must begin grace (6) seconds before the deadline: 0.5 to 1.5 s
      // from now, as ARGO_DEADLINE has whole seconds.
      f.env[pr::kEnvGraceSeconds] = "6";
      const int64_t deadline_s = (Env::Default()->NowUnixMillis() + 6000 + 1500) / 1000;
      f.env[pr::kEnvArgoDeadline] = ArgoTime(deadline_s, offset_minutes);
      FakeSidecar sidecar(f.work);
      f.Serve(&sidecar, ShardFixture::Shard({"long", "later"}));
      const auto started = Clock::now();
      auto step = f.StartSh("exec sleep 30");
      BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitFailed);
      const milliseconds elapsed = Since(started);
      BOOST_CHECK_GE(elapsed.count(), 400);
      BOOST_CHECK_LT(elapsed.count(), 2500);
      BOOST_CHECK_EQUAL(sidecar.TaskStarts().size(), 1u);
      auto ends = sidecar.TaskEnds();
      BOOST_REQUIRE_EQUAL(ends.size(), 1u);
      BOOST_CHECK(ends[0].status == TaskStatus::kInterrupted);
      rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
      BOOST_CHECK(summary["durable"].GetBool());
    }
  }
}

BOOST_AUTO_TEST_CASE(no_task_starts_past_argo_deadline) {
  ShardFixture f;
  f.env[pr::kEnvArgoDeadline] = ArgoTime(Env::Default()->NowUnixMillis() / 1000 - 3600, 0);
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"a", "b"}));
  auto step = f.StartSh(R"(touch "$OUT/ran")");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitFailed);
  BOOST_CHECK(sidecar.TaskStarts().empty());
  BOOST_CHECK(!FileExists(f.Out("ran")));
  rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK_EQUAL(summary["not_run"].GetInt64(), 2);
  BOOST_CHECK(summary["durable"].GetBool());
}

// Argo sets ARGO_DEADLINE to Go's zero time when the workflow has no deadline.
BOOST_AUTO_TEST_CASE(argo_zero_deadline_means_none) {
  ShardFixture f;
  f.env[pr::kEnvArgoDeadline] = "0001-01-01T00:00:00Z";
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"a"}));
  auto step = f.StartSh("true");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 1u);
  BOOST_CHECK(ends[0].status == TaskStatus::kSucceeded);
  BOOST_CHECK_MESSAGE(!Contains(step->err(), "ARGO_DEADLINE"), step->err());
}

BOOST_AUTO_TEST_CASE(each_task_has_its_own_group_and_dies_with_the_step) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"orphan"}));
  auto step = f.StartSh(R"(echo $$ > "$OUT/task.pid.tmp"; mv "$OUT/task.pid.tmp" "$OUT/task.pid"
                           exec sleep 30)");
  BOOST_REQUIRE_MESSAGE(WaitForFile(f.Out("task.pid"), kStepTimeout),
                        "the task never started; stderr:\n"
                            << step->err());
  const pid_t task = ReadPid(f.Out("task.pid"));
  BOOST_CHECK_EQUAL(::getpgid(task), task);
  BOOST_CHECK_NE(::getpgid(task), ::getpgid(step->pid()));
  // SIGKILL leaves tm-step no chance to clean up: PR_SET_PDEATHSIG must.
  BOOST_REQUIRE(::kill(step->pid(), SIGKILL) == 0);
  BOOST_CHECK_EQUAL(step->Wait(kStepTimeout).value_or(-1), 128 + SIGKILL);
  BOOST_CHECK_MESSAGE(WaitUntil([&] { return ProcessIsDead(task); }, milliseconds(1000)),
                      "task " << task << " outlived tm-step");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step_test
