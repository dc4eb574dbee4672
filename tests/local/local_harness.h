// Runs `tm-step local` for tests, as a shell runs a job: in its own process
// group, stdout and stderr captured in files. The test process is a child
// subreaper (main_test.cc), so after `kill -9` of a run's process group the
// tasks it leaves behind (they run in process groups of their own and die by
// PR_SET_PDEATHSIG) are reparented to the test, which waits for every one of
// them: a rerun never races a dying task. Waits are bounded polls of events
// (an exit, a file, a line count) with deadlines, never bare sleeps.
#ifndef TASKMASTER_TESTS_LOCAL_LOCAL_HARNESS_H_
#define TASKMASTER_TESTS_LOCAL_LOCAL_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/files.h"
#include "support/services.h"
#include "support/temp_dir.h"
#include "support/wait_until.h"

namespace taskmaster::local_test {

using std::chrono::milliseconds;
using test_support::EnvVars;
using test_support::FileExists;
using test_support::ReadFile;
using test_support::WaitUntil;
using test_support::WriteFile;

// Set by tests/CMakeLists.txt.
inline constexpr const char* kStepBinary = TM_STEP_BINARY;
inline constexpr const char* kSidecarBinary = TM_SIDECAR_BINARY;
inline constexpr const char* kExampleTask = TM_EXAMPLES_DIR "/process-records.py";

// A fresh directory tm-local-test-XXXXXX under $TMPDIR (or /tmp), removed with
// everything in it.
class TempDir : public test_support::TempDir {
 public:
  TempDir() : test_support::TempDir("tm-local-test") {}
};

// Names in a directory (sorted); empty when it does not exist.
std::vector<std::string> ListDir(const std::string& path);
bool Contains(const std::string& text, const std::string& part);
// Lines of text (without their '\n').
std::vector<std::string> Lines(const std::string& text);

// A python3 for the example task: /usr/bin/python3 when present (no shim).
std::string Python();

// One `tm-step local` run (a ChildProcess: its own process group, the test's
// environment without TM_* and ARGO_* variables plus `env`, stdin /dev/null),
// its stdout and stderr in capture_dir/local-N.out and .err.
class LocalRun : public test_support::ChildProcess {
 public:
  LocalRun(const std::vector<std::string>& args, const EnvVars& env,
           const std::string& capture_dir);
  // A run still going (a failed test) is killed with its whole group.
  ~LocalRun();

  // kill -9 of the process group, then waits until every process the run
  // started is gone. Only for a test that has no other child running.
  void KillAll(milliseconds timeout);
};

// Reaps every child of the test process, orphaned tasks included, until there
// is none left (true) or timeout passes (false).
bool ReapAllChildren(milliseconds timeout);

// Runs `tm-step local args` to completion; fails the test when it takes
// longer than timeout.
struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};
Outcome RunToEnd(const std::vector<std::string>& args, const EnvVars& env,
                 const std::string& capture_dir, milliseconds timeout);

// Runs a command line through the shell and returns its exit code and stdout.
Outcome Shell(const std::string& command_line);

// `tm-sidecar ARGS --store sqlite:STATE_DIR/state.db` (a local run's SQLite
// store), stdout and stderr together in `out`.
Outcome SidecarOnStateDir(const std::string& state_dir, const std::string& args);
// The rows `sql` reads from STATE_DIR/state.db with sqlite3, a line each, its
// columns separated by one space; fails the test when sqlite3 does.
std::string StateDbRows(const std::string& state_dir, const std::string& sql);

// The services' environment and keys of a test's own (support/services.h).
using test_support::RequireServiceEnv;
using test_support::UniqueKey;

// A JSON array of the IDs.
std::string JsonList(const std::vector<std::string>& ids);
// "t000", "t001", ... (width digits).
std::vector<std::string> TaskIds(int count, const std::string& prefix = "t", int width = 3);

}  // namespace taskmaster::local_test

#endif  // TASKMASTER_TESTS_LOCAL_LOCAL_HARNESS_H_
