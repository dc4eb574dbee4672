#include "faults.h"

#include <signal.h>
#include <sys/prctl.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/child_process.h"

namespace taskmaster::chaos_test {
namespace {

struct ProcessInfo {
  pid_t ppid = 0;
  std::string comm;
  std::string state;
};

// /proc/PID/stat is "pid (comm) state ppid ...": comm may hold spaces and
// parentheses, so the fields after it are read from the last ')'.
std::map<pid_t, ProcessInfo> Processes() {
  std::map<pid_t, ProcessInfo> all;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t open = stat.find('(');
    const size_t close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    std::istringstream rest(stat.substr(close + 1));
    ProcessInfo info;
    info.comm = stat.substr(open + 1, close - open - 1);
    if (rest >> info.state >> info.ppid) all[static_cast<pid_t>(std::stol(name))] = info;
  }
  return all;
}

}  // namespace

const char* ToString(Fault fault) {
  switch (fault) {
    case Fault::kKillTask:
      return "kill -9 a task";
    case Fault::kKillStep:
      return "kill -9 a pod's tm-step";
    case Fault::kKillSidecar:
      return "kill -9 tm-sidecar";
    case Fault::kKillRun:
      return "kill -9 the whole run";
    case Fault::kRestartRedis:
      return "restart Redis empty";
    case Fault::kStopPostgres:
      return "stop PostgreSQL";
  }
  return "?";
}

namespace {

// Every descendant of root, parents before their children.
std::vector<std::pair<pid_t, ProcessInfo>> Descendants(pid_t root) {
  const std::map<pid_t, ProcessInfo> all = Processes();
  std::vector<std::pair<pid_t, ProcessInfo>> found;
  std::vector<pid_t> frontier = {root};
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    for (const auto& [pid, info] : all) {
      if (info.ppid != parent) continue;
      frontier.push_back(pid);
      found.emplace_back(pid, info);
    }
  }
  return found;
}

}  // namespace

std::vector<pid_t> DescendantsNamed(pid_t root, const std::string& comm) {
  std::vector<pid_t> found;
  for (const auto& [pid, info] : Descendants(root)) {
    if (info.comm == comm) found.push_back(pid);
  }
  return found;
}

std::string DescribeDescendants(pid_t root) {
  std::string out;
  for (const auto& [pid, info] : Descendants(root)) {
    if (!out.empty()) out += ", ";
    out += std::to_string(pid) + " " + info.comm + " (" + info.state + ")";
  }
  return out.empty() ? "none" : out;
}

bool KillOne(const std::vector<pid_t>& pids, std::mt19937_64* rng) {
  if (pids.empty()) return false;
  return ::kill(pids[(*rng)() % pids.size()], SIGKILL) == 0;
}

void Services(const std::string& command) {
  const char* script = TM_SERVICES_SCRIPT;
  const char* dir = std::getenv("TM_SERVICES_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr && *dir != '\0',
                        "TM_SERVICES_DIR is not set: run this suite under "
                        "scripts/test-services.sh (make test does)");
  // The servers daemonize: orphaned while this process is their subreaper
  // they would become its children, and no wait for a killed run's processes
  // (ReapAllChildren) could ever end. So they are left to init.
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  const test_support::ShellResult r =
      test_support::RunShell(std::string(script) + " " + command + " 2>&1");
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, command << ": " << r.out);
}

}  // namespace taskmaster::chaos_test
