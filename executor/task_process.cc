#include "task_process.h"

#include <fcntl.h>
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
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
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
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (executable(candidate)) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return Status::InvalidArgument("cannot run " + name + ": not found on PATH");
}

Result<std::unique_ptr<TaskProcess>> TaskProcess::Spawn(const TaskSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("the task command is empty");
  auto exe = ResolveExecutable(spec.argv[0]);
  if (!exe.ok()) return exe.status();

  // Everything the child needs is built before fork: after it only
  // async-signal-safe calls are made.
  const CStringArray envp(ChildEnvironment(spec.set_env, [&](const std::string& key) {
    return std::find(spec.unset_env.begin(), spec.unset_env.end(), key) != spec.unset_env.end();
  }));
  const CStringArray argv(spec.argv);

  int log_fd = -1;
  if (!spec.log_path.empty()) {
    log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) return Status::FromErrno("open task log " + spec.log_path, errno);
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    int err = errno;
    if (log_fd >= 0) ::close(log_fd);
    return Status::FromErrno("socketpair", err);
  }
  // Reports an exec failure from the child: closed on a successful exec.
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    if (log_fd >= 0) ::close(log_fd);
    return Status::FromErrno("pipe", err);
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    for (int fd : {sv[0], sv[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    if (log_fd >= 0) ::close(log_fd);
    return Status::FromErrno("fork", err);
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (log_fd >= 0) {
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
    }
    // dup2 clears FD_CLOEXEC on the new descriptor.
    if (sv[1] == protocol::kControlFd) {
      ::fcntl(sv[1], F_SETFD, 0);
    } else {
      ::dup2(sv[1], protocol::kControlFd);
    }
    ::execve(exe->c_str(), argv.data(), envp.data());
    int err = errno;
    ssize_t ignored = ::write(err_pipe[1], &err, sizeof(err));
    (void)ignored;
    ::_exit(127);
  }
  // Also set the group from here, so signalling it cannot race the child's setpgid.
  ::setpgid(pid, pid);
  ::close(sv[1]);
  ::close(err_pipe[1]);
  if (log_fd >= 0) ::close(log_fd);
  int child_err = 0;
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &child_err, sizeof(child_err));
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof(child_err))) {
    ::close(sv[0]);
    int status;
    ::waitpid(pid, &status, 0);
    return Status::InvalidArgument("cannot run " + *exe + ": " + std::strerror(child_err));
  }
  ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<TaskProcess>(new TaskProcess(pid, sv[0]));
}

TaskProcess::~TaskProcess() {
  CloseControl();
  if (!reaped_) {
    SignalGroup(SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

void TaskProcess::CloseControl() {
  if (control_fd_ >= 0) ::close(control_fd_);
  control_fd_ = -1;
}

void TaskProcess::SignalGroup(int sig) const { ::kill(-pid_, sig); }

bool TaskProcess::TryReap(int* wait_status) {
  if (reaped_) return true;
  pid_t r = ::waitpid(pid_, wait_status, WNOHANG);
  if (r == pid_) reaped_ = true;
  return reaped_;
}

}  // namespace taskmaster::step
