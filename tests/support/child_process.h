// Child processes for tests that run the real binaries. A binary that blocks
// signals and reads them from a signalfd (tm-step, tm-sidecar) cannot run inside
// the test process, so tests start it as a child and wait for its exit with a
// deadline.
#ifndef TASKMASTER_TESTS_SUPPORT_CHILD_PROCESS_H_
#define TASKMASTER_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace taskmaster::test_support {

using EnvVars = std::map<std::string, std::string>;

// One child process, started clean as in a container: in its own process group,
// with no blocked signals, SIGTERM/SIGINT/SIGCHLD/SIGPIPE/SIGHUP/SIGQUIT at their
// defaults, and no file descriptor of the test process beyond 0-2. Its
// environment is the test's without TM_* and ARGO_* variables (so a developer's
// shell cannot change a test) plus `env`; stdin is /dev/null, stdout and stderr
// go to the files `output_prefix`.out and `output_prefix`.err (truncated, or
// appended to: see OutputMode), so a child that logs a lot never blocks on a
// pipe nobody reads. Not thread-safe.
class ChildProcess {
 public:
  // How the output files are opened: kAppend keeps what an earlier child wrote
  // to the same files (a restarted server logging on after its predecessor).
  enum class OutputMode { kTruncate, kAppend };

  // Runs `binary` with `args` (argv[0] is `binary`); fails the test case when it
  // cannot start.
  ChildProcess(const std::string& binary, const std::vector<std::string>& args, const EnvVars& env,
               const std::string& output_prefix, OutputMode output_mode = OutputMode::kTruncate);
  // A child not reaped yet (a failed test) is killed with SIGKILL and reaped;
  // the rest of its process group is left alone (see SignalGroup).
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The exit code (128 + signal when killed by one), or nullopt when the child
  // still runs after timeout. Reaps the child once it exited.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // Whether the child still runs; reaps it when it exited.
  bool Running();
  // Whether Wait has reaped the child.
  bool reaped() const { return exit_code_.has_value(); }
  // Sends sig to the child's whole process group.
  void SignalGroup(int sig);
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> exit_code_;
  std::string out_path_;
  std::string err_path_;
};

struct ShellResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string out;
};

// Runs a command line through /bin/sh to completion; stdout is captured,
// stderr goes to the test's. Fails the test case when the shell cannot start.
ShellResult RunShell(const std::string& command_line);

}  // namespace taskmaster::test_support

#endif  // TASKMASTER_TESTS_SUPPORT_CHILD_PROCESS_H_
