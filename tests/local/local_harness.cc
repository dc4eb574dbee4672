#include "local_harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <system_error>

namespace taskmaster::local_test {

namespace {

// tm-step's argv after the binary: the verb, then its args.
std::vector<std::string> WithVerb(const char* verb, const std::vector<std::string>& args) {
  std::vector<std::string> all = {verb};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

// capture_dir/local-N: a run's own pair of log files, N counting the runs.
std::string NextCapturePrefix(const std::string& capture_dir) {
  static int counter = 0;
  return capture_dir + "/local-" + std::to_string(++counter);
}

}  // namespace

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
                   const std::string& capture_dir)
    : ChildProcess(kStepBinary, WithVerb("local", args), env, NextCapturePrefix(capture_dir)) {}

LocalRun::~LocalRun() {
  if (!reaped()) SignalGroup(SIGKILL);
}

void LocalRun::KillAll(milliseconds timeout) {
  SignalGroup(SIGKILL);
  BOOST_REQUIRE_MESSAGE(Wait(timeout).has_value(), "tm-step local survived SIGKILL");
  BOOST_REQUIRE_MESSAGE(ReapAllChildren(timeout), "processes of the killed run still live after "
                                                      << timeout.count() << " ms");
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
  test_support::ShellResult shell = test_support::RunShell(command_line);
  return Outcome{shell.exit_code, std::move(shell.out), ""};
}

Outcome SidecarOnStateDir(const std::string& state_dir, const std::string& args) {
  return Shell(std::string(kSidecarBinary) + " " + args + " --store sqlite:" + state_dir +
               "/state.db 2>&1");
}

std::string StateDbRows(const std::string& state_dir, const std::string& sql) {
  Outcome rows = Shell("sqlite3 -separator ' ' " + state_dir + "/state.db \"" + sql + "\" 2>&1");
  BOOST_REQUIRE_MESSAGE(rows.code == 0, "sqlite3: " << rows.out);
  return rows.out;
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
