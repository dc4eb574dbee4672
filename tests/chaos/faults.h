// The faults the chaos driver injects into a running `tm-step local` workflow
// on PostgreSQL + Redis: kill -9 of one task command, of one pod's tm-step, of
// the run's tm-sidecar, or of the whole run; Redis restarted empty; PostgreSQL
// stopped for a while. Processes are found among the run's own descendants
// (/proc), so nothing but what the test started is ever signalled.
#ifndef TASKMASTER_TESTS_CHAOS_FAULTS_H_
#define TASKMASTER_TESTS_CHAOS_FAULTS_H_

#include <sys/types.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace taskmaster::chaos_test {

enum class Fault {
  kKillTask,      // kill -9 of one task command (a python3 the run started)
  kKillStep,      // kill -9 of one pod's `tm-step run`
  kKillSidecar,   // kill -9 of the run's `tm-sidecar --local --serve-pods`
  kKillRun,       // kill -9 of the whole run, process group and all
  kRestartRedis,  // Redis stopped and started empty
  kStopPostgres,  // PostgreSQL stopped for 0.5 to 3 s, then started again
};
inline constexpr int kFaultKinds = 6;
const char* ToString(Fault fault);

// Descendants of `root` (not root itself) whose command name (/proc/PID/comm)
// is `comm`, at the moment of the call.
std::vector<pid_t> DescendantsNamed(pid_t root, const std::string& comm);

// "PID comm (state), ..." of every descendant of `root`: what a kill left.
std::string DescribeDescendants(pid_t root);

// One of the processes, chosen by rng, killed with SIGKILL; false when there
// was none to kill.
bool KillOne(const std::vector<pid_t>& pids, std::mt19937_64* rng);

// scripts/test-services.sh COMMAND (restart-redis, stop-postgres,
// start-postgres) on the services of this test run; fails the test when it
// fails.
void Services(const std::string& command);

}  // namespace taskmaster::chaos_test

#endif  // TASKMASTER_TESTS_CHAOS_FAULTS_H_
