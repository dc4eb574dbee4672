// Chaos, bounded and seeded: the example task (examples/process-records.py) over
// TM_CHAOS_TASKS tasks (default 500) in `tm-step local` on PostgreSQL + Redis,
// with TM_CHAOS_FAULTS faults (default 12) drawn from TM_CHAOS_SEED (default:
// the clock; the seed is printed, and setting it replays the same choices):
// tasks, pods' steps, the sidecar and whole runs killed with -9, Redis
// restarted empty, PostgreSQL stopped for seconds, each at a moment in the work
// also drawn from the seed. A run that dies is started again; after the last
// fault the workflow runs to its end. Then:
//   - every task succeeded, exactly once (workflow and task rows, attempts);
//   - each task's stored checkpoint is its last, none acknowledged was lost;
//   - no record before a committed checkpoint ran twice, and the outputs equal
//     an uninterrupted run's (the audit logs, local/example_check.h);
//   - Redis equals PostgreSQL (refilled by the sidecar itself, nobody else).
// The last line printed ("chaos: ...") holds the counts RELIABILITY.md reports;
// `make chaos` runs longer and more seeds (scripts/run-chaos.sh). TM_CHAOS_KEEP=DIR
// keeps the logs of a run that broke an invariant there.
#include <signal.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <random>

#include "chaos_workflow.h"
#include "faults.h"

namespace taskmaster::chaos_test {
namespace {

using local_test::LocalRun;
using local_test::milliseconds;
using local_test::WaitUntil;

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::strtoull(value, nullptr, 10);
}

struct Counts {
  int runs = 0;
  int faults[kFaultKinds] = {};
  int no_victim = 0;  // faults drawn when no such process was running
};

std::string Summary(uint64_t seed, const Counts& counts, int tasks, int64_t records,
                    int64_t repeated, size_t problems) {
  std::string s = "chaos: seed " + std::to_string(seed) + ", " + std::to_string(tasks) +
                  " tasks, " + std::to_string(records) + " records, " +
                  std::to_string(counts.runs) + " runs;";
  for (int i = 0; i < kFaultKinds; ++i) {
    s += std::string(" ") + ToString(static_cast<Fault>(i)) + ": " +
         std::to_string(counts.faults[i]) + ";";
  }
  return s + " drawn with nothing to kill: " + std::to_string(counts.no_victim) +
         "; records run again after a fault: " + std::to_string(repeated) +
         "; invariants broken: " + std::to_string(problems);
}

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

// Waits until every process of a run that ended (or was killed) is gone.
void ReapRun() {
  BOOST_REQUIRE_MESSAGE(
      local_test::ReapAllChildren(milliseconds(30000)),
      "30 s after the run ended, still there: " << DescribeDescendants(::getpid()));
}

BOOST_AUTO_TEST_SUITE(chaos)

BOOST_AUTO_TEST_CASE(faults_at_seeded_moments_lose_nothing) {
  const uint64_t seed =
      EnvNumber("TM_CHAOS_SEED",
                static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  const int faults = static_cast<int>(EnvNumber("TM_CHAOS_FAULTS", 12));
  BOOST_TEST_MESSAGE("chaos seed " << seed << " (TM_CHAOS_SEED=" << seed << " replays it)");
  std::mt19937_64 rng(seed);

  ChaosWorkflow workflow(std::to_string(seed), static_cast<int>(EnvNumber("TM_CHAOS_TASKS", 500)));
  Counts counts;
  Progress progress(workflow.data(), workflow.example().tasks);
  const int64_t total_records = workflow.total_records();
  // Faults fall within the first ~90% of the work, spaced evenly on average.
  const int64_t spacing = std::max<int64_t>(1, total_records * 9 / 10 / (faults + 1));
  auto run = workflow.Start();
  ++counts.runs;
  bool finished = false;
  for (int i = 0; i < faults && !finished; ++i) {
    const int64_t target = progress.Now() + 1 + static_cast<int64_t>(rng() % (2 * spacing));
    std::optional<int> exited;
    BOOST_REQUIRE_MESSAGE(WaitUntil(
                              [&] {
                                exited = run->Wait(milliseconds(0));
                                return exited.has_value() || progress.Now() >= target;
                              },
                              milliseconds(120000)),
                          "no progress for 120 s; stderr:\n"
                              << run->err());
    if (exited) {
      BOOST_TEST_MESSAGE("the run exited with " << *exited << "; its stderr ends:\n"
                                                << Tail(run->err(), 1500));
      if (*exited == 0) {
        finished = true;
        break;
      }
      ReapRun();
      run = workflow.Start();
      ++counts.runs;
    }
    const auto fault = static_cast<Fault>(rng() % kFaultKinds);
    BOOST_TEST_MESSAGE("fault " << i + 1 << " at " << progress.Now()
                                << " records: " << ToString(fault));
    bool applied = true;
    switch (fault) {
      case Fault::kKillTask:
        applied = KillOne(DescendantsNamed(run->pid(), "python3"), &rng);
        break;
      case Fault::kKillStep:
        applied = KillOne(DescendantsNamed(run->pid(), "tm-step"), &rng);
        break;
      case Fault::kKillSidecar:
        applied = KillOne(DescendantsNamed(run->pid(), "tm-sidecar"), &rng);
        break;
      case Fault::kKillRun:
        run->SignalGroup(SIGKILL);
        BOOST_REQUIRE(run->Wait(milliseconds(30000)).has_value());
        ReapRun();
        run = workflow.Start();
        ++counts.runs;
        break;
      case Fault::kRestartRedis:
        Services("restart-redis");
        break;
      case Fault::kStopPostgres: {
        const auto outage = milliseconds(500 + static_cast<int64_t>(rng() % 2500));
        const auto stopped = std::chrono::steady_clock::now();
        Services("stop-postgres");
        // The outage lasts its drawn length, or until the run gives up.
        WaitUntil(
            [&] { return std::chrono::steady_clock::now() - stopped >= outage || !run->Running(); },
            outage + milliseconds(1000));
        Services("start-postgres");
        break;
      }
    }
    if (applied) {
      ++counts.faults[static_cast<int>(fault)];
    } else {
      ++counts.no_victim;
    }
  }

  // To the end: a run that dies of the last fault is started again (at most 5 times).
  for (int rerun = 0; !finished && rerun <= 5; ++rerun) {
    const std::optional<int> code = run->Wait(milliseconds(300000));
    BOOST_REQUIRE_MESSAGE(code.has_value(), "the run did not end in 300 s; stderr:\n"
                                                << run->err());
    BOOST_TEST_MESSAGE("the run exited with " << *code);
    if (*code == 0) {
      finished = true;
      break;
    }
    ReapRun();
    run = workflow.Start();
    ++counts.runs;
  }
  BOOST_REQUIRE_MESSAGE(finished, "the workflow never finished; last stderr:\n" << run->err());

  int64_t repeated = 0;
  const std::vector<std::string> problems = workflow.Problems(&repeated);
  for (const auto& problem : problems) BOOST_ERROR(problem);
  if (!problems.empty()) workflow.KeepLogs();
  BOOST_TEST_MESSAGE(
      Summary(seed, counts, workflow.example().tasks, total_records, repeated, problems.size()));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::chaos_test
