// Runs the real tm-step binary for tests. tm-step blocks SIGTERM/SIGINT/SIGCHLD
// and reads them from a signalfd, so it cannot run inside the test process: each
// test starts it as a child with a temp work dir and waits for events (its exit,
// a file appearing) with deadlines, never with plain sleeps.
#ifndef TASKMASTER_TESTS_EXECUTOR_STEP_HARNESS_H_
#define TASKMASTER_TESTS_EXECUTOR_STEP_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace taskmaster::step_test {

using std::chrono::milliseconds;

// The tm-step under test and its version, set by tests/CMakeLists.txt.
inline constexpr const char* kStepBinary = TM_STEP_BINARY;
inline constexpr const char* kStepVersion = TM_VERSION;

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// How long any one tm-step run may take before a test gives up on it.
inline constexpr milliseconds kStepTimeout(10000);

bool Contains(const std::string& text, const std::string& part);

// Checks pred every 5 ms until it holds (true) or timeout passes (false).
bool WaitUntil(const std::function<bool()>& pred, milliseconds timeout);
bool WaitForFile(const std::string& path, milliseconds timeout);
bool FileExists(const std::string& path);
// The file's size in bytes; 0 when it does not exist.
uint64_t FileSize(const std::string& path);
// The file's bytes, or "" when it cannot be read.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& bytes);
// A process that no longer runs: gone, or a zombie nobody reaped yet.
bool ProcessIsDead(pid_t pid);

using EnvVars = std::map<std::string, std::string>;

// One tm-step process. Its environment is the test's without TM_* and ARGO_*
// variables (so a developer's shell cannot change a test) plus `env`; stdin is
// /dev/null, stdout and stderr go to files in capture_dir, so a step that logs
// a lot never blocks on a pipe nobody reads. It runs in its own process group.
class StepProcess {
 public:
  StepProcess(const std::vector<std::string>& args, const EnvVars& env,
              const std::string& capture_dir);
  // A step still running (a failed test) is killed and reaped.
  ~StepProcess();
  StepProcess(const StepProcess&) = delete;
  StepProcess& operator=(const StepProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The exit code (128 + signal when killed by one), or nullopt when the step
  // still runs after timeout.
  std::optional<int> Wait(milliseconds timeout);
  bool Running();
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> exit_code_;
  std::string out_path_;
  std::string err_path_;
};

struct StepResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a shell command line (a tool such as file or chroot) to completion.
StepResult RunShell(const std::string& command_line);

// Runs tm-step to completion; fails the test case when it takes over timeout.
StepResult RunStep(const std::vector<std::string>& args, const EnvVars& env = {},
                   milliseconds timeout = milliseconds(10000));

}  // namespace taskmaster::step_test

#endif  // TASKMASTER_TESTS_EXECUTOR_STEP_HARNESS_H_
