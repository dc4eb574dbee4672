// tm-step's per-task overhead (issue 3): a shard of 1,000 tasks whose command is
// /bin/true, run by the real tm-step against the real tm-sidecar on SQLite, beside
// the floor measured in the same run — this program spawning and reaping
// /bin/true 1,000 times. Reports the overhead per task above the floor (target
// <= 1 ms) and tm-step's peak RSS (target <= 8 MiB).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "processes.h"

namespace {

using taskmaster::bench::Median;
using taskmaster::bench::Now;
using taskmaster::bench::Spawn;
using taskmaster::bench::Wait;

constexpr int kTasks = 1000;
constexpr int kRounds = 5;

// One pod: the sidecar, then the step; SIGTERM to the sidecar once the step exits.
double RunPod(const std::vector<std::string>& sidecar, const std::vector<std::string>& step,
              struct rusage* step_usage) {
  pid_t side = Spawn(sidecar, true);
  double start = Now();
  pid_t main = Spawn(step, true);
  int code = Wait(main, step_usage);
  double elapsed = Now() - start;
  kill(side, SIGTERM);
  Wait(side);
  if (code != 0) {
    std::fprintf(stderr, "%s exited %d\n", step[1].c_str(), code);
    std::exit(1);
  }
  return elapsed;
}

}  // namespace

int main() {
  const std::string step = TM_STEP_BINARY;
  const std::string sidecar = TM_SIDECAR_BINARY;
  const std::string dir = std::filesystem::temp_directory_path() / "taskmaster-overhead-XXXXXX";
  std::string tmp = dir;
  if (mkdtemp(tmp.data()) == nullptr) return 1;
  setenv("TM_STORE", ("sqlite:" + tmp + "/state.db").c_str(), 1);
  setenv("TM_LISTEN", "127.0.0.1:0", 1);

  std::string list = "[";
  for (int i = 0; i < kTasks; ++i) list += (i ? ",\"t" : "\"t") + std::to_string(i) + "\"";
  list += "]";

  // Rounds alternate the floor and the shard, each shard a fresh workflow, so
  // both see the same machine; the medians are reported.
  std::vector<double> floors, shards, rss;
  for (int round = 0; round < kRounds; ++round) {
    const std::string r = tmp + "/r" + std::to_string(round);
    setenv("TM_STATE_KEY", ("overhead-" + std::to_string(round)).c_str(), 1);
    struct rusage usage;
    RunPod({sidecar, "--role", "init", "--work-dir", r + "/init"},
           {step, "init", "--work-dir", r + "/init", "--task-list", list, "--batch-size",
            std::to_string(kTasks)},
           &usage);
    double floor_start = Now();
    for (int i = 0; i < kTasks; ++i) Wait(Spawn({"/bin/true"}, false));
    floors.push_back(Now() - floor_start);
    shards.push_back(
        RunPod({sidecar, "--role", "shard", "--shard", "0", "--work-dir", r + "/s0"},
               {step, "run", "--work-dir", r + "/s0", "--shard", "0", "--", "/bin/true"}, &usage));
    rss.push_back(static_cast<double>(usage.ru_maxrss) / 1024);
  }
  const double floor = Median(floors);
  const double shard = Median(shards);
  const double per_task_ms = (shard - floor) / kTasks * 1000;
  const double rss_mib = *std::max_element(rss.begin(), rss.end());
  std::printf("rounds: %d (medians)\n", kRounds);
  std::printf("floor: spawn+reap /bin/true x%d      %8.3f s  (%.3f ms per task)\n", kTasks, floor,
              floor / kTasks * 1000);
  std::printf("tm-step run, %d tasks, SQLite sidecar %8.3f s  (%.3f ms per task)\n", kTasks, shard,
              shard / kTasks * 1000);
  std::printf("overhead per task above the floor: %.3f ms (target <= 1 ms: %s)\n", per_task_ms,
              per_task_ms <= 1.0 ? "met" : "missed");
  std::printf("tm-step peak RSS (max over rounds): %.2f MiB (target <= 8 MiB: %s)\n", rss_mib,
              rss_mib <= 8.0 ? "met" : "missed");
  std::filesystem::remove_all(tmp);
  return 0;
}
