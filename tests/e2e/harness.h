// End-to-end harness: runs the real tm-sidecar and tm-step binaries as child
// processes, one "pod" at a time, the way Argo does (DESIGN.md §3): both start
// on a fresh work dir, and when the step exits the sidecar gets SIGTERM. Tests
// synchronize on events — a child's exit, a file appearing, an HTTP answer —
// with bounded polling loops, never with plain sleeps.
//
// The stores are inspected through the real command-line tools (sqlite3, psql,
// redis-cli, tm-sidecar status), so the tests see what a user sees.
#ifndef TASKMASTER_TESTS_E2E_HARNESS_H_
#define TASKMASTER_TESTS_E2E_HARNESS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/files.h"
#include "support/temp_dir.h"
#include "support/wait_until.h"
#include "taskmaster/shell.h"

namespace taskmaster::e2e {

using std::chrono::milliseconds;
using test_support::EnvVars;
using test_support::FileExists;
using test_support::ReadFile;
using test_support::ShellResult;
using test_support::WaitUntil;
using test_support::WriteFile;

// Set by tests/CMakeLists.txt.
inline constexpr const char* kStepBinary = TM_STEP_BINARY;
inline constexpr const char* kSidecarBinary = TM_SIDECAR_BINARY;
inline constexpr const char* kServicesScript = TM_SERVICES_SCRIPT;

// A fresh directory tm-e2e-XXXXXX under $TMPDIR (or /tmp), removed with
// everything in it.
class TempDir : public test_support::TempDir {
 public:
  TempDir() : test_support::TempDir("tm-e2e") {}
};

// A state key no other test or run uses.
std::string UniqueKey(const std::string& prefix);

// Required environment (scripts/test-services.sh exports it): fails the test
// with a clear message when unset — these tests never skip.
std::string RequireEnv(const char* name);
std::string PostgresDsn();  // TM_TEST_POSTGRES_DSN
std::string RedisUrl();     // TM_TEST_REDIS_URL

// One tm-sidecar or tm-step process (a ChildProcess: its own process group, the
// test's environment without TM_* and ARGO_* variables plus `env`, stdin
// /dev/null), its stdout and stderr appended to `log_prefix`.out and .err.
class Process : public test_support::ChildProcess {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args, const EnvVars& env,
          const std::string& log_prefix);
  // A process still running (a failed test) is continued if stopped, killed
  // with its whole group, and reaped.
  ~Process();

  // Sends sig to the process alone (not its group); nothing once it was reaped.
  void Signal(int sig);
};

// Runs a command line with bash -o pipefail; stdout is captured, stderr is
// captured too unless `keep_stderr_apart` (then it goes to the test's stderr).
ShellResult Shell(const std::string& command_line, bool keep_stderr_apart = false);

// A tiny HTTP/1.0 GET on 127.0.0.1; nullopt when nothing answered in time.
struct HttpResponse {
  int status = 0;
  std::string body;
  std::string head;  // the status line and headers, as sent
};
std::optional<HttpResponse> HttpGet(uint16_t port, const std::string& path,
                                    milliseconds timeout = milliseconds(2000));
// Sends `request` (a whole HTTP request, as bytes) to 127.0.0.1 and reads the
// response until the server closes; nullopt when nothing answered in time.
std::optional<HttpResponse> HttpExchange(uint16_t port, const std::string& request,
                                         milliseconds timeout = milliseconds(2000));
// The value of one sample line ("name{labels} value") of a /metrics body;
// nullopt when absent. `series` is the name with its labels as rendered.
std::optional<double> MetricValue(const std::string& metrics, const std::string& series);
// The sum of every sample line that starts with `prefix` (e.g. a name and its
// first labels: "store_errors_total{store=\"postgres\"").
double MetricSum(const std::string& metrics, const std::string& prefix);

// The store the pods of a test share.
struct StoreSpec {
  std::vector<std::string> flags;  // tm-sidecar store flags
};
StoreSpec SqliteStore(const std::string& path);
StoreSpec PostgresStore(bool with_redis);

// What a pod runs.
struct PodSpec {
  std::string role = "shard";  // init | shard | finalize
  int64_t shard = 0;
  std::string state_key;
  StoreSpec store;
  bool local = false;  // tm-sidecar --local
  EnvVars env;         // added to both containers' environment (TM_ATTEMPT, ...)
};

// One pod: `dir` holds work/ (the work dir), port, progress, and the logs.
class Pod {
 public:
  Pod(std::string dir, PodSpec spec);
  ~Pod();

  const std::string& dir() const { return dir_; }
  std::string work_dir() const { return dir_ + "/work"; }
  std::string progress_file() const { return dir_ + "/progress"; }
  std::string work(const std::string& name) const { return work_dir() + "/" + name; }

  // Starts (or, after a crash, restarts) tm-sidecar on the work dir.
  void StartSidecar();
  // Waits for `ready`; fails the test (with the logs) when it never comes.
  void WaitReady(milliseconds timeout = milliseconds(10000));
  // tm-step <verb> --work-dir W --state-key K [--shard N for run] args [-- command].
  void StartStep(const std::vector<std::string>& args,
                 const std::vector<std::string>& command = {});
  Process& sidecar() { return *sidecar_; }
  Process& step() { return *step_; }

  // The sidecar's HTTP port, once it wrote the port file.
  uint16_t Port(milliseconds timeout = milliseconds(10000));
  // The acknowledged seq (0 before the first ack).
  int64_t AckedSeq() const;
  // The step's exit code; fails the test when it still runs after timeout.
  int WaitStep(milliseconds timeout = milliseconds(30000));
  // SIGTERM (Argo's part when main exited) and the exit code; fails the test
  // when the sidecar still runs after timeout.
  int StopSidecar(milliseconds timeout = milliseconds(30000));
  // Both containers' stderr, for failure messages.
  std::string Logs() const;

 private:
  std::string dir_;
  PodSpec spec_;
  int sidecar_starts_ = 0;
  std::unique_ptr<Process> sidecar_;
  std::unique_ptr<Process> step_;
};

struct PodResult {
  int step = -1;
  int sidecar = -1;
  std::string logs;
};
// A whole pod: sidecar and step started together; when the step exits, the
// sidecar gets SIGTERM. `step_args` as for Pod::StartStep.
PodResult RunPod(const std::string& dir, const PodSpec& spec,
                 const std::vector<std::string>& step_args,
                 const std::vector<std::string>& command = {});

// A workflow of pods under one temp dir: init, shards and finalize, each pod
// in its own fresh directory (as in Argo, where each attempt is a new pod).
class Workflow {
 public:
  Workflow(std::string root, std::string state_key, StoreSpec store);
  const std::string& key() const { return key_; }
  // Spec for a pod of this workflow (role, shard, store, key filled in).
  PodSpec Spec(const std::string& role, int64_t shard = 0) const;
  // A fresh pod directory name for the role and shard.
  std::string NewPodDir(const std::string& role, int64_t shard = 0);

  PodResult Init(const std::vector<std::string>& task_ids, int64_t batch_size);
  // Init, failing the test (with the logs) unless both containers exit 0.
  void MustInit(const std::vector<std::string>& task_ids, int64_t batch_size);
  PodResult Shard(int64_t shard, const std::vector<std::string>& command, const EnvVars& env = {});
  PodResult Finalize();

 private:
  std::string root_;
  std::string key_;
  StoreSpec store_;
  int pods_ = 0;
};

// The fixture of suites whose cases each start from a fresh temp dir holding a
// SQLite store (tmp/state.db).
struct SqliteFixture {
  // A workflow on the store under a new state key (UniqueKey(key_prefix)),
  // its init pod run (MustInit).
  Workflow InitWorkflow(const std::string& key_prefix, const std::vector<std::string>& task_ids,
                        int64_t batch_size);

  TempDir tmp;
  const std::string db = tmp / "state.db";
};

// A task command: /bin/sh -c script.
std::vector<std::string> Sh(const std::string& script);
// The JSON array of task IDs.
std::string TaskListJson(const std::vector<std::string>& ids);
// IDs prefix-1 .. prefix-n.
std::vector<std::string> TaskIds(const std::string& prefix, int n);

// One query through the sqlite3 CLI (-batch -noheader, '|' separated); fails
// the test when sqlite3 fails.
std::string Sqlite(const std::string& db, const std::string& sql);
// One query through psql -AtX (unaligned, tuples only, '|' separated).
std::string Psql(const std::string& sql);
// redis-cli -u TM_TEST_REDIS_URL <args>, raw output.
std::string RedisCli(const std::string& args);
// Every row the store of `store` holds for the workflow `key` (its workflow,
// tasks, checkpoints, fences and shard counts), as text: what a test compares
// before and after a request that must write nothing.
std::string StoredRows(const StoreSpec& store, const std::string& key);

// The records of a journal, its highest seq and the seq of its commit record
// (all 0 when there is none, or no journal yet).
struct JournalSummary {
  int64_t records = 0;
  int64_t max_seq = 0;
  int64_t commit_seq = 0;
};
JournalSummary ReadJournal(const std::string& path);

}  // namespace taskmaster::e2e

#endif  // TASKMASTER_TESTS_E2E_HARNESS_H_
