#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "support/files.h"

extern char** environ;

namespace taskmaster::test_support {

using std::chrono::milliseconds;

namespace {

bool StartsWith(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

int ExitCodeOf(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

}  // namespace

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           const EnvVars& env, const std::string& output_prefix,
                           OutputMode output_mode)
    : out_path_(output_prefix + ".out"), err_path_(output_prefix + ".err") {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('='));
    if (StartsWith(entry, "TM_") || StartsWith(entry, "ARGO_") || env.count(key)) continue;
    env_strings.push_back(std::move(entry));
  }
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  const int output_flags =
      O_WRONLY | O_CREAT | (output_mode == OutputMode::kAppend ? O_APPEND : O_TRUNC);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, out_path_.c_str(), output_flags, 0644);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, err_path_.c_str(), output_flags, 0644);
  // Nothing of the test process leaks in, so a test can tell what the child
  // itself hands its own children.
  posix_spawn_file_actions_addclosefrom_np(&files, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // No blocked or ignored signals inherited from the test runner.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGCHLD, SIGPIPE, SIGHUP, SIGQUIT}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const int err = posix_spawn(&pid_, binary.c_str(), &files, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&files);
  BOOST_REQUIRE_MESSAGE(err == 0, "posix_spawn " << binary << ": " << std::strerror(err));
  // Through syscall(2): glibc 2.36's <sys/pidfd.h> lacks extern "C".
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  BOOST_REQUIRE_MESSAGE(pidfd_ >= 0, "pidfd_open: " << std::strerror(errno));
}

ChildProcess::~ChildProcess() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

std::optional<int> ChildProcess::Wait(milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = ExitCodeOf(status);
      return exit_code_;
    }
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    struct pollfd p = {pidfd_, POLLIN, 0};  // readable once the process exited
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

bool ChildProcess::Running() {
  return !Wait(milliseconds(0)).has_value();
}

void ChildProcess::SignalGroup(int sig) {
  ::kill(-pid_, sig);
}

std::string ChildProcess::out() const {
  return ReadFile(out_path_);
}
std::string ChildProcess::err() const {
  return ReadFile(err_path_);
}

ShellResult RunShell(const std::string& command_line) {
  FILE* pipe = ::popen(command_line.c_str(), "r");
  BOOST_REQUIRE_MESSAGE(pipe != nullptr, "popen " << command_line);
  ShellResult result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) result.out.append(buf, n);
  result.exit_code = ExitCodeOf(::pclose(pipe));
  return result;
}

}  // namespace taskmaster::test_support
