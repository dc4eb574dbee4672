// One run of the user's command: its own process group, PR_SET_PDEATHSIG(SIGKILL),
// and a socketpair whose child end is fd 3 (TM_CONTROL_FD). stdout passes
// through untouched, or goes to a log file in local mode; stderr too, unless
// capture_stderr_tail makes it a pipe the caller reads and forwards there
// (stderr_tail.h). Local mode also starts its steps and sidecars with it, with
// the options TaskSpec marks as theirs.
#ifndef TASKMASTER_EXECUTOR_TASK_PROCESS_H_
#define TASKMASTER_EXECUTOR_TASK_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "taskmaster/status.h"

namespace taskmaster::step {

struct TaskSpec {
  std::vector<std::string> argv;               // argv[0] is looked up on PATH
  std::map<std::string, std::string> set_env;  // added to (or replacing in) our environment
  std::vector<std::string> unset_env;
  std::string log_path;  // empty: inherit stdout/stderr; else both append there

  // The defaults are a task's; local mode's steps and sidecars change them.
  bool own_process_group = true;      // false: stays in ours, so a `kill -PGID` of ours reaches it
  int parent_death_signal = SIGKILL;  // sent to the child when we die; 0: none
  bool control_channel = true;        // false: no fd 3, and control_fd() is -1
  bool stdin_null = false;            // true: stdin reads /dev/null instead of ours
  std::function<bool(const std::string&)> unset_env_if;  // drops more variables, by name
  std::vector<int> ignored_signals;                      // SIG_IGN in the child from before exec on
  std::vector<int> inherited_fds;  // close-on-exec descriptors of ours the child keeps
  // true: the child's stderr is a pipe whose read end is stderr_fd(), so the
  // task runner can forward it and keep its last line for the attempt's error.
  // Set for tasks only (task_runner.cc), never for local mode's own children.
  bool capture_stderr_tail = false;
};

class TaskProcess {
 public:
  // InvalidArgument when the command cannot be found or executed (the message
  // says which and why); IOError when fork/socketpair fail.
  static Result<std::unique_ptr<TaskProcess>> Spawn(const TaskSpec& spec);
  ~TaskProcess();

  pid_t pid() const { return pid_; }
  // Our end of the control socket (non-blocking), or -1 once closed.
  int control_fd() const { return control_fd_; }
  void CloseControl();
  // Our end of the child's stderr pipe (non-blocking, close-on-exec) with
  // capture_stderr_tail, or -1 without it or once closed.
  int stderr_fd() const { return stderr_fd_; }
  void CloseStderr();
  // Where the child's stderr would have gone without the pipe, for what is read
  // from stderr_fd(): our log_path descriptor (owned, open until we go away) or
  // our own STDERR_FILENO. -1 without capture_stderr_tail.
  int stderr_destination_fd() const { return stderr_destination_fd_; }
  // Signals the whole process group (own_process_group); harmless once it is gone.
  void SignalGroup(int sig) const;
  // Signals the child alone; harmless once it is reaped.
  void Signal(int sig) const;
  // Non-blocking reap. True once the child exited; then *wait_status is set.
  bool TryReap(int* wait_status);
  // Blocks until the child exited (reaping it); its wait status.
  int Wait();
  bool reaped() const { return reaped_; }

 private:
  TaskProcess(pid_t pid, int control_fd) : pid_(pid), control_fd_(control_fd) {}
  pid_t pid_;
  int control_fd_;
  int stderr_fd_ = -1;
  int stderr_destination_fd_ = -1;
  bool owns_stderr_destination_ = false;
  bool own_group_ = true;
  bool reaped_ = false;
};

// Finds an executable on PATH (or checks a path with '/'); InvalidArgument if none.
Result<std::string> ResolveExecutable(const std::string& name);

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_TASK_PROCESS_H_
