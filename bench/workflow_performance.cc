// End-to-end cost per task above the spawn floor (issue 10, part 3). Each case
// runs /bin/true tasks through the real tm-step and tm-sidecar, alternating
// with the floor — this program spawning and reaping /bin/true the same number
// of times with posix_spawn — so both see the same machine; medians of the
// rounds are reported, with the target each case has.
//
// Cases (--cases, comma-separated; default all but the PostgreSQL ones):
//   pod-shard      one shard pod as Argo runs it: `tm-step run` beside a
//                  `tm-sidecar` on SQLite, no fsync (the pod's emptyDir dies with it)
//   local-shard    the same shard as local mode runs it: `tm-sidecar --local`,
//                  which fsyncs the journal, the ack and restore/ (the work dir
//                  outlives the processes)
//   local-b<B>     `tm-step local --batch-size B` of the whole workflow on SQLite
//   pg-b<B>        the same with --postgres and --redis (TM_BENCH_POSTGRES_DSN and
//                  TM_BENCH_REDIS_URL, e.g. from scripts/test-services.sh)
//
// TM_BENCH_STEP and TM_BENCH_SIDECAR run other binaries than this build's (to
// compare two builds); TM_BENCH_DIR is where the state dirs go (default $TMPDIR).
//
// usage: workflow_performance [--tasks N] [--local-tasks N] [--rounds R]
//                             [--cases pod-shard,local-shard,local-b1,...]
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "processes.h"

namespace {

using taskmaster::bench::Median;
using taskmaster::bench::Now;
using taskmaster::bench::Spawn;
using taskmaster::bench::Wait;

// CPU seconds (user + system) of every child reaped so far, and theirs.
double ChildrenCpu() {
  struct rusage usage;
  getrusage(RUSAGE_CHILDREN, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Wall time and the CPU time of the processes involved, in seconds.
struct Cost {
  double wall = 0;
  double cpu = 0;
};

// Measures from now until Done().
class Meter {
 public:
  Meter() : wall_(Now()), cpu_(ChildrenCpu()) {}
  Cost Done() const { return {Now() - wall_, ChildrenCpu() - cpu_}; }

 private:
  double wall_;
  double cpu_;
};

void Check(int code, const std::string& what) {
  if (code == 0) return;
  std::fprintf(stderr, "workflow_performance: %s exited %d\n", what.c_str(), code);
  std::exit(1);
}

Cost Floor(int tasks) {
  const Meter meter;
  for (int i = 0; i < tasks; ++i) Wait(Spawn({"/bin/true"}, false));
  return meter.Done();
}

std::string TaskList(int tasks) {
  std::string list = "[";
  for (int i = 0; i < tasks; ++i) list += (i ? ",\"t" : "\"t") + std::to_string(i) + "\"";
  return list + "]";
}

struct Bench {
  std::string step = TM_STEP_BINARY;
  std::string sidecar = TM_SIDECAR_BINARY;
  std::string tmp;
  std::string postgres;
  std::string redis;
  int run = 0;  // a fresh state key and dir per run

  // Unique in this run and across runs on the same PostgreSQL.
  std::string Fresh(const std::string& name) {
    return name + "-" + std::to_string(getpid()) + "-" + std::to_string(++run);
  }

  // One pod: its sidecar, then its step, timed from the sidecar's start until
  // the step exits (Argo's critical path); SIGTERM to the sidecar after. The
  // CPU time includes the sidecar's until it exited.
  Cost Pod(const std::vector<std::string>& sidecar_argv,
           const std::vector<std::string>& step_argv) {
    const Meter meter;
    pid_t side = Spawn(sidecar_argv, true);
    pid_t main = Spawn(step_argv, true);
    const int code = Wait(main);
    const double wall = meter.Done().wall;
    kill(side, SIGTERM);
    Check(Wait(side), sidecar_argv[0]);
    Check(code, step_argv[0] + " " + step_argv[1]);
    return {wall, meter.Done().cpu};
  }

  // One shard of `tasks` tasks, after an untimed init pod.
  Cost Shard(int tasks, bool local) {
    const std::string dir = tmp + "/" + Fresh("shard");
    setenv("TM_STORE", ("sqlite:" + dir + ".db").c_str(), 1);
    setenv("TM_LISTEN", "127.0.0.1:0", 1);
    setenv("TM_STATE_KEY", Fresh("bench").c_str(), 1);
    std::vector<std::string> side = {sidecar, "--work-dir"};
    if (local) side.insert(side.begin() + 1, "--local");
    auto with = [](std::vector<std::string> v, const std::vector<std::string>& more) {
      v.insert(v.end(), more.begin(), more.end());
      return v;
    };
    std::vector<std::string> init = {
        step,          "init",          "--work-dir",   dir + "/init",
        "--task-list", TaskList(tasks), "--batch-size", std::to_string(tasks)};
    Pod(with(side, {dir + "/init", "--role", "init"}), init);
    return Pod(with(side, {dir + "/s0", "--role", "shard", "--shard", "0"}),
               {step, "run", "--work-dir", dir + "/s0", "--shard", "0", "--", "/bin/true"});
  }

  // `tm-step local` of `tasks` tasks at this batch size, in a fresh state dir.
  Cost Local(int tasks, int batch, bool pg) {
    const std::string dir = tmp + "/" + Fresh("local");
    const std::string list = dir + ".json";
    std::ofstream(list) << TaskList(tasks);
    std::vector<std::string> argv = {
        step,          "local",       "--sidecar", sidecar,        "--task-list",
        "@" + list,    "--state-dir", dir,         "--batch-size", std::to_string(batch),
        "--state-key", Fresh("local")};
    if (pg) {
      argv.insert(argv.end(), {"--postgres", postgres, "--redis", redis});
    }
    argv.insert(argv.end(), {"--", "/bin/true"});
    const Meter meter;
    Check(Wait(Spawn(argv, true)), "tm-step local");
    const Cost cost = meter.Done();
    std::filesystem::remove_all(dir);
    return cost;
  }
};

struct Case {
  std::string name;
  std::string what;
  int tasks;
  double target_ms;  // above the floor, per task; 0: none
  std::function<Cost()> run;
};

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

}  // namespace

int main(int argc, char** argv) {
  int shard_tasks = 1000;
  int local_tasks = 1000;
  int rounds = 5;
  std::string cases = "pod-shard,local-shard,local-b1,local-b10,local-b1000";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--tasks") {
      shard_tasks = std::atoi(argv[i + 1]);
    } else if (flag == "--local-tasks") {
      local_tasks = std::atoi(argv[i + 1]);
    } else if (flag == "--rounds") {
      rounds = std::atoi(argv[i + 1]);
    } else if (flag == "--cases") {
      cases = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: %s [--tasks N] [--local-tasks N] [--rounds R] [--cases ...]\n",
                   argv[0]);
      return 2;
    }
  }
  Bench bench;
  std::string tmp = std::filesystem::temp_directory_path() / "taskmaster-workflow-XXXXXX";
  if (const char* dir = std::getenv("TM_BENCH_DIR"))
    tmp = std::string(dir) + "/taskmaster-workflow-XXXXXX";
  if (mkdtemp(tmp.data()) == nullptr) return 1;
  bench.tmp = tmp;
  // Another build's binaries (a before/after comparison in the same run).
  if (const char* step = std::getenv("TM_BENCH_STEP")) bench.step = step;
  if (const char* sidecar = std::getenv("TM_BENCH_SIDECAR")) bench.sidecar = sidecar;
  if (const char* dsn = std::getenv("TM_BENCH_POSTGRES_DSN")) bench.postgres = dsn;
  if (const char* url = std::getenv("TM_BENCH_REDIS_URL")) bench.redis = url;

  std::vector<Case> all;
  for (const std::string& name : Split(cases)) {
    if (name == "pod-shard" || name == "local-shard") {
      const bool local = name == "local-shard";
      all.push_back({name,
                     std::string("tm-step run, ") + std::to_string(shard_tasks) + " tasks, " +
                         (local ? "sidecar --local" : "pod sidecar"),
                     shard_tasks, 0.1,
                     [&bench, shard_tasks, local] { return bench.Shard(shard_tasks, local); }});
    } else if (name.rfind("local-b", 0) == 0 || name.rfind("pg-b", 0) == 0) {
      const bool pg = name[0] == 'p';
      const int batch = std::atoi(name.c_str() + (pg ? 4 : 7));
      if (pg && (bench.postgres.empty() || bench.redis.empty())) {
        std::fprintf(stderr, "%s needs TM_BENCH_POSTGRES_DSN and TM_BENCH_REDIS_URL\n",
                     name.c_str());
        return 2;
      }
      all.push_back({name,
                     "tm-step local, " + std::to_string(local_tasks) + " tasks, batch " +
                         std::to_string(batch) + (pg ? ", PG + Redis" : ", SQLite"),
                     local_tasks, batch == 1 && !pg ? 1.0 : 0, [&bench, local_tasks, batch, pg] {
                       return bench.Local(local_tasks, batch, pg);
                     }});
    } else {
      std::fprintf(stderr, "unknown case %s\n", name.c_str());
      return 2;
    }
  }

  // Per task, in ms: the medians of the rounds, and of each round's own
  // difference (the floor and the case ran seconds apart, on the same load).
  std::printf("%-12s %-44s %8s %8s %8s | %8s %8s %8s\n", "case", "what", "floor", "ours", "above",
              "cpu flr", "cpu ours", "cpu abv");
  std::map<std::string, double> above_of;
  for (Case& c : all) {
    std::vector<double> floors, ours, above, cpu_floors, cpu_ours, cpu_above;
    const double per_task = 1000.0 / c.tasks;
    for (int round = 0; round < rounds; ++round) {
      const Cost floor = Floor(c.tasks);
      const Cost cost = c.run();
      floors.push_back(floor.wall * per_task);
      ours.push_back(cost.wall * per_task);
      above.push_back((cost.wall - floor.wall) * per_task);
      cpu_floors.push_back(floor.cpu * per_task);
      cpu_ours.push_back(cost.cpu * per_task);
      cpu_above.push_back((cost.cpu - floor.cpu) * per_task);
    }
    const double above_ms = Median(above);
    std::printf("%-12s %-44s %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f", c.name.c_str(), c.what.c_str(),
                Median(floors), Median(ours), above_ms, Median(cpu_floors), Median(cpu_ours),
                Median(cpu_above));
    above_of[c.name] = above_ms;
    if (c.target_ms > 0) {
      std::printf("  target <= %.1f: %s", c.target_ms, above_ms <= c.target_ms ? "met" : "missed");
    }
    // PostgreSQL + Redis: at most twice what SQLite costs above the floor.
    auto sqlite = above_of.find("local-b" + c.name.substr(4));
    if (c.name.rfind("pg-b", 0) == 0 && sqlite != above_of.end()) {
      const double ratio = above_ms / std::max(sqlite->second, 0.001);
      std::printf("  %.2fx SQLite's, target <= 2: %s", ratio, ratio <= 2 ? "met" : "missed");
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  std::filesystem::remove_all(tmp);
  return 0;
}
