// What the process-level benchmarks share: spawning and reaping children with
// posix_spawn (the floor they are all compared with spawns /bin/true the same
// way), the monotonic clock and medians. Header-only; single-threaded use.
#ifndef TASKMASTER_BENCH_PROCESSES_H_
#define TASKMASTER_BENCH_PROCESSES_H_

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace taskmaster::bench {

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Monotonic seconds.
inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Starts args[0] (a path) with our environment; quiet sends its stdout and
// stderr to /dev/null. Exits the benchmark when it cannot.
inline pid_t Spawn(const std::vector<std::string>& args, bool quiet) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    std::perror(argv[0]);
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Reaps the child; its exit code, or 128 + the signal that killed it.
inline int Wait(pid_t pid, struct rusage* usage = nullptr) {
  int status = 0;
  struct rusage ignored;
  wait4(pid, &status, 0, usage ? usage : &ignored);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace taskmaster::bench

#endif  // TASKMASTER_BENCH_PROCESSES_H_
