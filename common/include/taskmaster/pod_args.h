// The command lines of a pod's two programs, as local mode starts them: beside
// the work dir (protocol.h), the other interface between tm-step and
// tm-sidecar. Each struct holds what the caller decides; ToArgv() gives the
// exact argv (argv[0] is `program`), and tests/common/pod_args_test.cc pins it.
// The flags are the ones tm-step's and tm-sidecar's option parsers define
// (executor/cli.cc, sidecar/cli.cc); in Argo the WorkflowTemplate passes the
// same ones, mostly as TM_* variables. Plain values: copy freely.
#ifndef TASKMASTER_POD_ARGS_H_
#define TASKMASTER_POD_ARGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/protocol.h"
#include "taskmaster/status.h"

namespace taskmaster::protocol {

// Both programs take their work dir as `--work-dir DIR`, so the processes
// using a work dir can be found by their command line.
inline constexpr const char* kWorkDirFlag = "--work-dir";

// tm-sidecar beside a pod role in local mode: --local (fsync acks and restore
// files, ignore SIGINT, die with the parent) and no store flags, since the
// store comes through the environment (a DSN in argv shows in ps).
struct SidecarArgs {
  std::string program;  // tm-sidecar
  Role role = Role::kShard;
  int64_t shard = 0;
  std::string state_key;
  std::string work_dir;
  std::string listen;     // host:port for /healthz, /readyz, /metrics; port 0: any free one;
                          // empty: no flag (a pod of SidecarServerArgs serves none)
  std::string port_file;  // where the sidecar writes the port it bound; empty: no flag
  int grace_seconds = kDefaultGraceSeconds;
  std::string progress_file;  // N/M for a shard; empty: none

  std::vector<std::string> ToArgv() const;
};

// Local mode's one tm-sidecar for a whole run: `--serve-pods FD` serves the
// sidecar of every pod of the run from one process (sidecar/pod_server.h),
// started and stopped by PodMessage lines on the socket FD, with one HTTP
// listener for all of them.
struct SidecarServerArgs {
  std::string program;  // tm-sidecar
  int channel_fd = kControlFd;
  std::string listen;
  std::string port_file;

  std::vector<std::string> ToArgv() const;
};

// One line on the socket of SidecarServerArgs, compact JSON and '\n':
//   run → sidecar  {"start":[ARG,...],"log":PATH}  serve a pod's sidecar: ARGs are
//                  SidecarArgs::ToArgv() without the program; its log goes to PATH
//   run → sidecar  {"stop":WORK_DIR}               the pod's step exited: finish,
//                  as a pod's sidecar does on SIGTERM
//   sidecar → run  {"exited":WORK_DIR,"code":N}    the pod's sidecar finished, with
//                  the exit code its own tm-sidecar process would have had
struct PodMessage {
  enum class Kind { kStart, kStop, kExited };
  Kind kind = Kind::kStart;
  std::vector<std::string> args;  // kStart
  std::string log_path;           // kStart
  std::string work_dir;           // kStop, kExited
  int code = 0;                   // kExited
};
std::string Encode(const PodMessage& message);
// InvalidArgument naming what is wrong with the line.
Result<PodMessage> DecodePodMessage(std::string_view line);

// What every tm-step pod role (init, run, finalize) takes first.
struct StepCommonArgs {
  std::string program;        // tm-step
  bool sync_journal = false;  // fsync every journal record (the work dir outlives the pod)
  std::string state_key;
  std::string work_dir;
};

// `tm-step init`: records the workflow and outputs the pending shards.
struct StepInitArgs {
  StepCommonArgs common;
  std::string task_list;  // JSON array of task IDs, or @path
  int64_t batch_size = 1;
  // Local mode has no Argo node status to keep small: it keeps the 5,000 cap
  // rather than tm-step init's default.
  int64_t max_shards = kMaxShards;
  // --no-inline-limit: a list of any size (kMaxInlineTaskListBytes bounds only
  // what travels in a Workflow object; local mode has none).
  bool no_inline_limit = false;

  std::vector<std::string> ToArgv() const;
};

// `tm-step run`: one shard's tasks, each running `command`.
struct StepRunArgs {
  StepCommonArgs common;
  int64_t shard = 0;
  int64_t attempt = 0;       // 0-based
  int64_t last_attempt = 0;  // the pod's last attempt: a task failure on it is final
  std::string log_dir;       // each task's output to <log_dir>/<ordinal>.log; empty: inherited
  bool continue_on_error = false;
  int64_t max_failures = 0;
  double max_failure_percent = 0;
  int64_t task_retries = kDefaultTaskRetries;
  int64_t quarantine_after = kDefaultQuarantineAfter;
  double task_timeout_seconds = 0;  // 0: none
  std::vector<std::string> command;

  std::vector<std::string> ToArgv() const;
};

// `tm-step finalize`: the summary; fails when final failures exceed max_failures.
struct StepFinalizeArgs {
  StepCommonArgs common;
  int64_t max_failures = 0;
  double max_failure_percent = 0;

  std::vector<std::string> ToArgv() const;
};

}  // namespace taskmaster::protocol

#endif  // TASKMASTER_POD_ARGS_H_
