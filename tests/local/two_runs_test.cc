// Two `tm-step local` runs with different state dirs on one state key of one
// PostgreSQL (README "Local mode"): the run that claimed the key runs the whole
// workflow; the other exits 2 before it takes a fence or writes a record, so
// the store never mixes two runs. A run killed with -9 leaves the key free.
#include <boost/test/unit_test.hpp>
#include <map>

#include "local_harness.h"

namespace taskmaster::local_test {
namespace {

constexpr milliseconds kTimeout(60000);
constexpr const char* kRefused = "is in use by another tm-step local run";

// Logs "<run> <task>" to $RUNS, then waits (bounded) for the file $GATE.
const std::vector<std::string> kGatedTask = {
    "/bin/sh", "-c",
    "echo \"$RUN $TM_TASK_ID\" >> \"$RUNS\"; i=0; "
    "while [ ! -e \"$GATE\" ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done"};

class TwoRuns {
 public:
  TwoRuns()
      : dsn_(RequireServiceEnv("TM_TEST_POSTGRES_DSN")),
        redis_(RequireServiceEnv("TM_TEST_REDIS_URL")),
        key_(UniqueKey("two-runs")) {}

  const std::string& key() const { return key_; }
  const TempDir& dir() const { return dir_; }
  const std::vector<std::string>& ids() const { return ids_; }

  // The command line of run `name`, in state dir <dir>/<name>.
  std::vector<std::string> Args(const std::string& name) const {
    std::vector<std::string> args = {"--task-list",
                                     JsonList(ids_),
                                     "--state-dir",
                                     dir_ / name,
                                     "--state-key",
                                     key_,
                                     "--batch-size",
                                     "2",
                                     "--parallelism",
                                     "3",
                                     "--postgres",
                                     dsn_,
                                     "--redis",
                                     redis_,
                                     "--sidecar",
                                     kSidecarBinary,
                                     "--"};
    args.insert(args.end(), kGatedTask.begin(), kGatedTask.end());
    return args;
  }
  EnvVars Env(const std::string& name) const {
    return {{"RUN", name}, {"RUNS", dir_ / "runs"}, {"GATE", dir_ / "gate"}};
  }
  void OpenGate() const { WriteFile(dir_ / "gate", ""); }

  // Task ID -> the runs that started it, in order.
  std::map<std::string, std::vector<std::string>> Starts() const {
    std::map<std::string, std::vector<std::string>> starts;
    for (const auto& line : Lines(FileExists(dir_ / "runs") ? ReadFile(dir_ / "runs") : "")) {
      const size_t space = line.find(' ');
      starts[line.substr(space + 1)].push_back(line.substr(0, space));
    }
    return starts;
  }

  std::string Psql(const std::string& sql) const {
    return Shell("psql '" + dsn_ + "' -tAc \"" + sql + "\" 2>&1").out;
  }
  std::string Status() const {
    return Shell("TM_POSTGRES_DSN='" + dsn_ + "' " + kSidecarBinary + " status " + key_ + " 2>&1")
        .out;
  }
  std::string CachedState() const {
    return Shell("redis-cli -u '" + redis_ + "' GET 'workflow:state:" + key_ + "' 2>&1").out;
  }

 private:
  const std::string dsn_, redis_, key_;
  const std::vector<std::string> ids_ = TaskIds(6);
  TempDir dir_;
};

BOOST_AUTO_TEST_SUITE(two_runs)

BOOST_AUTO_TEST_CASE(two_runs_started_at_once_one_runs_everything_and_the_other_exits_2) {
  TwoRuns t;
  LocalRun a(t.Args("a"), t.Env("a"), t.dir().path());
  LocalRun b(t.Args("b"), t.Env("b"), t.dir().path());
  // Tasks wait at the gate, so the runs overlap until one of them has ended.
  BOOST_REQUIRE_MESSAGE(WaitUntil([&] { return !a.Running() || !b.Running(); }, kTimeout),
                        "neither run ended:\n"
                            << a.err() << b.err());
  BOOST_REQUIRE_MESSAGE(a.Running() != b.Running(), "both ended:\n" << a.err() << b.err());
  LocalRun& winner = a.Running() ? a : b;
  LocalRun& loser = a.Running() ? b : a;
  const std::string winner_name = a.Running() ? "a" : "b";
  BOOST_CHECK_MESSAGE(loser.Wait(milliseconds(0)) == 2, loser.err());
  BOOST_CHECK_MESSAGE(Contains(loser.err(), kRefused), loser.err());
  BOOST_CHECK_MESSAGE(Contains(loser.err(), t.key()), loser.err());

  t.OpenGate();
  const auto code = winner.Wait(kTimeout);
  BOOST_REQUIRE_MESSAGE(code == 0, "exit " << code.value_or(-1) << "\n" << winner.err());
  // Every task started once, by the winner.
  const auto starts = t.Starts();
  BOOST_CHECK_EQUAL(starts.size(), t.ids().size());
  for (const auto& [task, runs] : starts) {
    BOOST_CHECK_MESSAGE(runs == std::vector<std::string>{winner_name},
                        task << " started by " << runs.size() << " runs, first " << runs.front());
  }
  // The loser took no fence: each writer's fence is the winner's first.
  BOOST_CHECK_EQUAL(t.Psql("SELECT role, count(*), max(fence) FROM fences WHERE workflow_id = '" +
                           t.key() + "' GROUP BY role ORDER BY role"),
                    "finalize|1|1\ninit|1|1\nshard|3|1\n");
  BOOST_CHECK_MESSAGE(Contains(t.Status(), "\"status\":\"succeeded\",\"total\":6,\"succeeded\":6"),
                      t.Status());
  BOOST_CHECK_MESSAGE(Contains(t.CachedState(), "\"status\":\"succeeded\""), t.CachedState());
}

BOOST_AUTO_TEST_CASE(a_run_refused_mid_way_of_another_takes_over_once_that_one_is_killed) {
  TwoRuns t;
  {
    LocalRun a(t.Args("a"), t.Env("a"), t.dir().path());
    BOOST_REQUIRE_MESSAGE(WaitUntil([&] { return !t.Starts().empty(); }, kTimeout),
                          "run a never started a task:\n"
                              << a.err());
    const Outcome refused = RunToEnd(t.Args("b"), t.Env("b"), t.dir().path(), kTimeout);
    BOOST_CHECK_MESSAGE(refused.code == 2, "exit " << refused.code << "\n" << refused.err);
    BOOST_CHECK_MESSAGE(Contains(refused.err, kRefused), refused.err);
    BOOST_CHECK(a.Running());
    a.KillAll(milliseconds(10000));
  }
  // PostgreSQL ends the killed run's session, and its claim with it.
  BOOST_REQUIRE_MESSAGE(WaitUntil(
                            [&] {
                              return t.Psql(
                                         "SELECT count(*) FROM pg_locks WHERE locktype = "
                                         "'advisory'") == "0\n";
                            },
                            kTimeout),
                        "the killed run's claim is still held");
  t.OpenGate();
  const Outcome taken = RunToEnd(t.Args("b"), t.Env("b"), t.dir().path(), kTimeout);
  BOOST_REQUIRE_MESSAGE(taken.code == 0, "exit " << taken.code << "\n" << taken.err);
  // Run a finished no task (they all waited at the gate): run b ran each one.
  for (const auto& [task, runs] : t.Starts()) {
    BOOST_CHECK_MESSAGE(runs.back() == "b", task << " last started by run " << runs.back());
  }
  BOOST_CHECK_EQUAL(t.Starts().size(), t.ids().size());
  BOOST_CHECK_MESSAGE(Contains(t.Status(), "\"status\":\"succeeded\",\"total\":6,\"succeeded\":6"),
                      t.Status());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::local_test
