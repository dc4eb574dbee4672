#include "local_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace taskmaster::local_test {

namespace {

bool StartsWith(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

int DecodeStatus(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/tm-local-test-XXXXXX";
  BOOST_REQUIRE_MESSAGE(::mkdtemp(templ.data()) != nullptr,
                        "mkdtemp " << templ << ": " << std::strerror(errno));
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

bool WaitUntil(const std::function<bool()>& pred, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  BOOST_REQUIRE_MESSAGE(out.good(), "cannot write " << path);
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string Python() {
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

LocalRun::LocalRun(const std::vector<std::string>& args, const EnvVars& env,
                   const std::string& capture_dir) {
  static int counter = 0;
  const std::string tag = std::to_string(++counter);
  out_path_ = capture_dir + "/local-" + tag + ".out";
  err_path_ = capture_dir + "/local-" + tag + ".err";
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
  std::vector<std::string> argv_strings = {kStepBinary, "local"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, out_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, err_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addclosefrom_np(&files, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGCHLD, SIGPIPE, SIGHUP, SIGQUIT}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const int err = posix_spawn(&pid_, kStepBinary, &files, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&files);
  BOOST_REQUIRE_MESSAGE(err == 0, "posix_spawn " << kStepBinary << ": " << std::strerror(err));
  // Through syscall(2): glibc 2.36's <sys/pidfd.h> lacks extern "C".
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  BOOST_REQUIRE_MESSAGE(pidfd_ >= 0, "pidfd_open: " << std::strerror(errno));
}

LocalRun::~LocalRun() {
  if (!exit_code_) {
    ::kill(-pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

std::optional<int> LocalRun::Wait(milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = DecodeStatus(status);
      return exit_code_;
    }
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    struct pollfd p = {pidfd_, POLLIN, 0};  // readable once the process exited
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

void LocalRun::SignalGroup(int sig) {
  ::kill(-pid_, sig);
}

void LocalRun::KillAll(milliseconds timeout) {
  ::kill(-pid_, SIGKILL);
  BOOST_REQUIRE_MESSAGE(Wait(timeout).has_value(), "tm-step local survived SIGKILL");
  BOOST_REQUIRE_MESSAGE(ReapAllChildren(timeout), "processes of the killed run still live after "
                                                      << timeout.count() << " ms");
}

std::string LocalRun::out() const {
  return ReadFile(out_path_);
}
std::string LocalRun::err() const {
  return ReadFile(err_path_);
}

bool ReapAllChildren(milliseconds timeout) {
  return WaitUntil(
      [] {
        int status;
        pid_t r;
        while ((r = ::waitpid(-1, &status, WNOHANG)) > 0) {
        }
        return r < 0 && errno == ECHILD;
      },
      timeout);
}

Outcome RunToEnd(const std::vector<std::string>& args, const EnvVars& env,
                 const std::string& capture_dir, milliseconds timeout) {
  LocalRun run(args, env, capture_dir);
  auto code = run.Wait(timeout);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "tm-step local still runs after " << timeout.count()
                                                                            << " ms; stderr:\n"
                                                                            << run.err());
  return Outcome{*code, run.out(), run.err()};
}

Outcome Shell(const std::string& command_line) {
  FILE* pipe = ::popen(command_line.c_str(), "r");
  BOOST_REQUIRE_MESSAGE(pipe != nullptr, "popen " << command_line);
  Outcome result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) result.out.append(buf, n);
  result.code = DecodeStatus(::pclose(pipe));
  return result;
}

std::string JsonList(const std::vector<std::string>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ",";
    out += "\"" + ids[i] + "\"";
  }
  return out + "]";
}

std::vector<std::string> TaskIds(int count, const std::string& prefix, int width) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    std::string n = std::to_string(i);
    ids.push_back(prefix +
                  std::string(width > static_cast<int>(n.size()) ? width - n.size() : 0, '0') + n);
  }
  return ids;
}

}  // namespace taskmaster::local_test
