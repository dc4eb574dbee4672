// Failure budgets in tm-step local: a task's failed attempts (non-zero exit)
// spend --retries (--task-retries), counted per task in the store; attempts
// ended by SIGTERM from outside (here the task signals its own tm-step, as a
// deleted pod's step is signalled) are interrupted and spend nothing, and a
// checkpoint written after that SIGTERM is what the next attempt resumes from.
// --max-failure-percent tolerates a share of the list and stops the rest early.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <vector>

#include "local_harness.h"
#include "taskmaster/protocol.h"

namespace taskmaster::local_test {
namespace {

constexpr milliseconds kRunTimeout(60000);

std::vector<std::string> Args(const std::string& state_dir, const std::vector<std::string>& ids,
                              std::vector<std::string> flags, const std::string& script) {
  std::vector<std::string> args = {"--task-list", JsonList(ids),  "--state-dir", state_dir,
                                   "--sidecar",   kSidecarBinary, "--backoff",   "0"};
  args.insert(args.end(), flags.begin(), flags.end());
  for (const char* arg : {"--", "/bin/sh", "-c"}) args.push_back(arg);
  args.push_back(script);
  return args;
}

// One line per task: "<task> <failures> <interruptions> <status> <final>".
std::string TaskCounts(const std::string& state_dir) {
  return StateDbRows(state_dir,
                     "SELECT task_id, failures, interruptions, status, final FROM task_states "
                     "ORDER BY ordinal");
}

std::map<std::string, int> CountRuns(const std::string& runs_file) {
  std::map<std::string, int> runs;
  if (!FileExists(runs_file)) return runs;
  for (const auto& line : Lines(ReadFile(runs_file))) ++runs[line];
  return runs;
}

// Counts its runs in $RUNS; runs 1-10 signal their own tm-step (the task's
// parent) with SIGTERM and wait to be stopped, runs 11 and 12 exit 1, run 13
// succeeds.
constexpr const char* kPreemptedTask = R"(
  echo "$TM_TASK_ID" >> "$RUNS"
  n=$(grep -c . "$RUNS")
  if [ "$n" -le 10 ]; then
    trap 'exit 143' TERM
    kill -TERM "$PPID"
    sleep 30 & wait
  fi
  [ "$n" -ge 13 ] || exit 1
)";

BOOST_AUTO_TEST_SUITE(failure_budget)

BOOST_AUTO_TEST_CASE(ten_interruptions_spend_no_retries) {
  TempDir dir;
  const Outcome run = RunToEnd(Args(dir / "state", {"preempted"},
                                    {"--state-key", "preempted", "--retries", "2"}, kPreemptedTask),
                               {{"RUNS", dir / "runs"}}, dir.path(), kRunTimeout);
  BOOST_TEST_MESSAGE(run.out);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.out << run.err);
  BOOST_CHECK_EQUAL(CountRuns(dir / "runs")["preempted"], 13);
  // Two failures, within --retries 2; ten interruptions, which count for nothing.
  BOOST_CHECK_EQUAL(TaskCounts(dir / "state"), "preempted 2 10 succeeded 0\n");
}

BOOST_AUTO_TEST_CASE(a_task_that_exits_1_fails_for_good_after_three_attempts) {
  TempDir dir;
  const Outcome run =
      RunToEnd(Args(dir / "state", {"broken", "fine"}, {"--state-key", "broken", "--retries", "2"},
                    R"(echo "$TM_TASK_ID" >> "$RUNS"; [ "$TM_TASK_ID" = fine ])"),
               {{"RUNS", dir / "runs"}}, dir.path(), kRunTimeout);
  BOOST_TEST_MESSAGE(run.out);
  BOOST_CHECK_EQUAL(run.code, 1);
  BOOST_CHECK(Contains(run.out, "Workflow broken FAILED"));
  const auto runs = CountRuns(dir / "runs");
  // Three attempts, then no further pod is started for it (exit 4 is not
  // retried, though --pod-retries would allow 100).
  BOOST_CHECK_EQUAL(runs.at("broken"), 3);
  BOOST_CHECK_EQUAL(runs.at("fine"), 1);
  BOOST_CHECK_EQUAL(TaskCounts(dir / "state"), "broken 3 0 failed 1\nfine 0 0 succeeded 0\n");
}

BOOST_AUTO_TEST_CASE(pod_retries_bound_the_attempts_of_a_shard) {
  TempDir dir;
  // Interrupted on every attempt: --pod-retries 3 ends it after four.
  const Outcome run =
      RunToEnd(Args(dir / "state", {"forever"}, {"--state-key", "forever", "--pod-retries", "3"},
                    R"(echo "$TM_TASK_ID" >> "$RUNS"
                                       trap 'exit 143' TERM
                                       kill -TERM "$PPID"
                                       sleep 30 & wait)"),
               {{"RUNS", dir / "runs"}}, dir.path(), kRunTimeout);
  BOOST_CHECK_EQUAL(run.code, 1);
  BOOST_CHECK_EQUAL(CountRuns(dir / "runs")["forever"], 4);
  BOOST_CHECK_EQUAL(TaskCounts(dir / "state"), "forever 0 4 interrupted 0\n");
}

// The task checkpoints from its SIGTERM trap, with the seconds it has left
// (TM_GRACE_PERIOD); the next attempt gets that checkpoint.
BOOST_AUTO_TEST_CASE(a_checkpoint_written_after_sigterm_is_resumed_from) {
  TempDir dir;
  const std::string script = R"(
    if [ -n "$TM_CHECKPOINT" ]; then cp "$TM_CHECKPOINT" "$OUT/resumed"; exit 0; fi
    trap 'printf "{\"checkpoint\":{\"row\":42,\"grace\":%s}}\n" "$TM_GRACE_PERIOD" >&3; exit 143' TERM
    kill -TERM "$PPID"
    sleep 30 & wait
  )";
  const Outcome run = RunToEnd(Args(dir / "state", {"long"}, {"--state-key", "grace"}, script),
                               {{"OUT", dir.path()}}, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.out << run.err);
  // tm-step local's pods have a 30 s grace: the task gets 60% of 30 - 5 s.
  BOOST_CHECK_EQUAL(ReadFile(dir / "resumed"), "{\"row\":42,\"grace\":15}\n");
  BOOST_CHECK_EQUAL(TaskCounts(dir / "state"), "long 0 1 succeeded 0\n");
}

// The environment a task sees for fencing its own writes: TM_FENCE (the
// writer's fence, new with each pod attempt) and TM_IDEMPOTENCY_KEY.
BOOST_AUTO_TEST_CASE(each_attempt_gets_a_fence_and_an_idempotency_key) {
  TempDir dir;
  const Outcome run = RunToEnd(
      Args(
          dir / "state", {"once"}, {"--state-key", "fenced"},
          R"sh(echo "$TM_FENCE $TM_IDEMPOTENCY_KEY" >> "$RUNS"; [ "$(grep -c . "$RUNS")" -ge 2 ])sh"),
      {{"RUNS", dir / "runs"}}, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.err);
  const auto lines = Lines(ReadFile(dir / "runs"));
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  int64_t last_fence = 0;
  for (const std::string& line : lines) {
    const int64_t fence = std::stoll(line.substr(0, line.find(' ')));
    BOOST_CHECK_GT(fence, last_fence);
    last_fence = fence;
    BOOST_CHECK_EQUAL(line.substr(line.find(' ') + 1),
                      protocol::IdempotencyKey("fenced", "once", fence));
  }
}

// 5% of 20 tasks tolerates one final failure: after the second, the shards
// that start cancel their tasks instead of running them (--parallelism 1 keeps
// the order), and the workflow fails; 10% tolerates both and runs every task.
BOOST_AUTO_TEST_CASE(max_failure_percent_tolerates_a_share_and_stops_early_past_it) {
  const auto ids = TaskIds(20);
  const std::string script =
      R"(echo "$TM_TASK_ID" >> "$RUNS"; case "$TM_TASK_ID" in t000|t001) exit 1;; esac)";
  struct Case {
    const char* percent;
    int code;
    int runs;
  };
  for (const Case& c : {Case{"5", 1, 2}, Case{"10", 0, 20}}) {
    BOOST_TEST_CONTEXT("--max-failure-percent " << c.percent) {
      TempDir dir;
      const Outcome run = RunToEnd(Args(dir / "state", ids,
                                        {"--state-key", "share", "--retries", "0", "--parallelism",
                                         "1", "--max-failure-percent", c.percent},
                                        script),
                                   {{"RUNS", dir / "runs"}}, dir.path(), kRunTimeout);
      BOOST_TEST_MESSAGE(run.out);
      BOOST_CHECK_EQUAL(run.code, c.code);
      BOOST_CHECK_MESSAGE(Contains(run.out, std::string("--max-failure-percent ") + c.percent +
                                                " (" + (c.code ? "1" : "2") + " tolerated)"),
                          run.out);
      BOOST_CHECK_EQUAL(Lines(ReadFile(dir / "runs")).size(), static_cast<size_t>(c.runs));
      const auto rows = Lines(TaskCounts(dir / "state"));
      BOOST_CHECK_EQUAL(rows.size(), 20u);
      const auto cancelled = std::count_if(rows.begin(), rows.end(), [](const std::string& row) {
        return Contains(row, " cancelled ");
      });
      BOOST_CHECK_EQUAL(cancelled, 20 - c.runs);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::local_test
