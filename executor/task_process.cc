#include "task_process.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "exec_args.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step {

Result<std::string> ResolveExecutable(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("the task command is empty");
  auto executable = [](const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (executable(name)) return name;
    return Status::InvalidArgument("cannot run " + name + ": not an executable file");
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    std::string dir =
        path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (executable(candidate)) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return Status::InvalidArgument("cannot run " + name + ": not found on PATH");
}

namespace {

// The descriptors a spawn opens before fork; whatever is still set when this
// goes away is closed.
struct SpawnFds {
  int log = -1;
  int null = -1;
  int control[2] = {-1, -1};      // ours, the child's
  int stderr_pipe[2] = {-1, -1};  // ours (read), the child's (write)

  SpawnFds() = default;
  SpawnFds(const SpawnFds&) = delete;
  SpawnFds& operator=(const SpawnFds&) = delete;
  ~SpawnFds() {
    for (int* fd : {&log, &null, &control[0], &control[1], &stderr_pipe[0], &stderr_pipe[1]}) {
      Close(fd);
    }
  }
  static void Close(int* fd) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
};

Status OpenSpawnFds(const TaskSpec& spec, SpawnFds* fds) {
  if (!spec.log_path.empty()) {
    fds->log = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fds->log < 0) return Status::FromErrno("open task log " + spec.log_path, errno);
  }
  if (spec.stdin_null) {
    fds->null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fds->null < 0) return Status::FromErrno("open /dev/null", errno);
  }
  if (spec.control_channel &&
      ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds->control) != 0) {
    return Status::FromErrno("socketpair", errno);
  }
  if (spec.capture_stderr_tail && ::pipe2(fds->stderr_pipe, O_CLOEXEC) != 0) {
    return Status::FromErrno("pipe", errno);
  }
  return Status::OK();
}

// What the child needs, all built by the parent before the clone.
struct ChildArgs {
  const TaskSpec& spec;
  const SpawnFds& fds;
  pid_t parent;
  const std::string& exe;
  const CStringArray& argv;
  const CStringArray& envp;
  int exec_errno = 0;  // set by the child when execve fails
};

// The child's side of Spawn. It runs in our memory on a stack of its own while
// we wait (CLONE_VM | CLONE_VFORK): only system calls from here to exec, and
// nothing written but exec_errno.
int ExecChild(void* arg) {
  ChildArgs& a = *static_cast<ChildArgs*>(arg);
  const TaskSpec& spec = a.spec;
  const SpawnFds& fds = a.fds;
  if (spec.own_process_group) ::setpgid(0, 0);
  if (spec.parent_death_signal != 0) {
    ::prctl(PR_SET_PDEATHSIG, spec.parent_death_signal);
    if (::getppid() != a.parent) ::_exit(127);
  }
  // Ignored before they are unblocked, so a Ctrl-C cannot race the start.
  for (int sig : spec.ignored_signals) ::signal(sig, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  for (int fd : spec.inherited_fds) ::fcntl(fd, F_SETFD, 0);
  if (fds.null >= 0) ::dup2(fds.null, STDIN_FILENO);
  // With a captured stderr only stdout goes to the log: the pipe's end may be
  // fd 2 already (our own stderr was closed), which the log must not replace.
  if (fds.log >= 0) {
    ::dup2(fds.log, STDOUT_FILENO);
    if (fds.stderr_pipe[1] < 0) ::dup2(fds.log, STDERR_FILENO);
  }
  // dup2 clears FD_CLOEXEC on the new descriptor; one already in place keeps
  // it unless cleared.
  if (fds.stderr_pipe[1] == STDERR_FILENO) {
    ::fcntl(fds.stderr_pipe[1], F_SETFD, 0);
  } else if (fds.stderr_pipe[1] >= 0) {
    ::dup2(fds.stderr_pipe[1], STDERR_FILENO);
  }
  if (fds.control[1] == protocol::kControlFd) {
    ::fcntl(fds.control[1], F_SETFD, 0);
  } else if (fds.control[1] >= 0) {
    ::dup2(fds.control[1], protocol::kControlFd);
  }
  ::execve(a.exe.c_str(), a.argv.data(), a.envp.data());
  a.exec_errno = errno;
  ::_exit(127);
}

// The child's stack until it execs: what glibc's posix_spawn gives it too.
constexpr size_t kChildStackBytes = 64 << 10;

}  // namespace

Result<std::unique_ptr<TaskProcess>> TaskProcess::Spawn(const TaskSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("the task command is empty");
  auto exe = ResolveExecutable(spec.argv[0]);
  if (!exe.ok()) return exe.status();

  // Everything the child needs is built before fork: after it only
  // async-signal-safe calls are made.
  const CStringArray envp(ChildEnvironment(spec.set_env, [&](const std::string& key) {
    return std::find(spec.unset_env.begin(), spec.unset_env.end(), key) != spec.unset_env.end() ||
           (spec.unset_env_if && spec.unset_env_if(key));
  }));
  const CStringArray argv(spec.argv);
  SpawnFds fds;
  TM_RETURN_IF_ERROR(OpenSpawnFds(spec, &fds));

  // As posix_spawn does: the child shares our memory until it execs and we
  // wait for that, so no page tables are copied and no copy-on-write faults
  // follow, a cost per task that fork paid in proportion to our own size.
  // Signals stay blocked across the clone, so no handler of ours runs on the
  // child's stack; the child sets its own mask before exec.
  static thread_local std::unique_ptr<char[]> stack(new char[kChildStackBytes]);
  ChildArgs args{spec, fds, ::getpid(), *exe, argv, envp};
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid =
      ::clone(ExecChild, stack.get() + kChildStackBytes, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  const int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Status::FromErrno("clone", clone_errno);
  // Also set the group from here, so signalling it cannot race the child's setpgid.
  if (spec.own_process_group) ::setpgid(pid, pid);
  SpawnFds::Close(&fds.control[1]);
  // Only the child (and whatever it starts) may hold the write end: the read
  // end sees end of stream once they all closed it.
  SpawnFds::Close(&fds.stderr_pipe[1]);
  if (args.exec_errno != 0) {
    int status;
    ::waitpid(pid, &status, 0);
    return Status::InvalidArgument("cannot run " + *exe + ": " + std::strerror(args.exec_errno));
  }
  const int control = fds.control[0];
  fds.control[0] = -1;
  if (control >= 0) ::fcntl(control, F_SETFL, ::fcntl(control, F_GETFL) | O_NONBLOCK);
  std::unique_ptr<TaskProcess> process(new TaskProcess(pid, control));
  process->own_group_ = spec.own_process_group;
  if (fds.stderr_pipe[0] >= 0) {
    process->stderr_fd_ = fds.stderr_pipe[0];
    fds.stderr_pipe[0] = -1;
    ::fcntl(process->stderr_fd_, F_SETFL, ::fcntl(process->stderr_fd_, F_GETFL) | O_NONBLOCK);
    // The log is open with O_APPEND, so what is forwarded goes to its end, among
    // the child's stdout there: when it is read, a little later than written.
    process->owns_stderr_destination_ = fds.log >= 0;
    process->stderr_destination_fd_ = fds.log >= 0 ? fds.log : STDERR_FILENO;
    fds.log = -1;
  }
  return process;
}

TaskProcess::~TaskProcess() {
  CloseControl();
  CloseStderr();
  if (owns_stderr_destination_) ::close(stderr_destination_fd_);
  if (!reaped_) {
    if (own_group_) {
      SignalGroup(SIGKILL);
    } else {
      Signal(SIGKILL);
    }
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

void TaskProcess::CloseControl() {
  if (control_fd_ >= 0) ::close(control_fd_);
  control_fd_ = -1;
}

void TaskProcess::CloseStderr() {
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  stderr_fd_ = -1;
}

void TaskProcess::SignalGroup(int sig) const {
  ::kill(-pid_, sig);
}

void TaskProcess::Signal(int sig) const {
  // After the reap the pid may already be another process's.
  if (!reaped_) ::kill(pid_, sig);
}

int TaskProcess::Wait() {
  int wait_status = 0;
  while (!reaped_) {
    const pid_t r = ::waitpid(pid_, &wait_status, 0);
    if (r == pid_ || (r < 0 && errno != EINTR)) reaped_ = true;
  }
  return wait_status;
}

bool TaskProcess::TryReap(int* wait_status) {
  if (reaped_) return true;
  pid_t r = ::waitpid(pid_, wait_status, WNOHANG);
  if (r == pid_) reaped_ = true;
  return reaped_;
}

}  // namespace taskmaster::step
