// Runs the real tm-step binary for tests. tm-step blocks SIGTERM/SIGINT/SIGCHLD
// and reads them from a signalfd, so it cannot run inside the test process: each
// test starts it as a child with a temp work dir and waits for events (its exit,
// a file appearing) with deadlines, never with plain sleeps.
#ifndef TASKMASTER_TESTS_EXECUTOR_STEP_HARNESS_H_
#define TASKMASTER_TESTS_EXECUTOR_STEP_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/files.h"
#include "support/temp_dir.h"
#include "support/wait_until.h"

namespace taskmaster::step_test {

using std::chrono::milliseconds;
using test_support::EnvVars;
using test_support::FileExists;
using test_support::ReadFile;
using test_support::WaitUntil;
using test_support::WriteFile;

// The tm-step under test and its version, set by tests/CMakeLists.txt.
inline constexpr const char* kStepBinary = TM_STEP_BINARY;
inline constexpr const char* kStepVersion = TM_VERSION;

// A fresh directory tm-step-test-XXXXXX under $TMPDIR (or /tmp), removed with
// everything in it.
class TempDir : public test_support::TempDir {
 public:
  TempDir() : test_support::TempDir("tm-step-test") {}
};

// How long any one tm-step run may take before a test gives up on it.
inline constexpr milliseconds kStepTimeout(10000);

bool Contains(const std::string& text, const std::string& part);

bool WaitForFile(const std::string& path, milliseconds timeout);
// The file's size in bytes; 0 when it does not exist.
uint64_t FileSize(const std::string& path);
// A process that no longer runs: gone, or a zombie nobody reaped yet.
bool ProcessIsDead(pid_t pid);

// One tm-step process (a ChildProcess: its own process group, a clean
// environment without TM_* and ARGO_* plus `env`), its stdout and stderr in
// capture_dir/tm-step.out and .err. A step still running (a failed test) is
// killed and reaped.
class StepProcess : public test_support::ChildProcess {
 public:
  StepProcess(const std::vector<std::string>& args, const EnvVars& env,
              const std::string& capture_dir);
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
