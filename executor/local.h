// `tm-step local` (DESIGN.md §1, §8): the whole workflow of the WorkflowTemplate
// on this machine. It plays Argo's part: per step a pod-like work dir under the
// state dir, a sidecar beside it (SQLite in the state dir unless --postgres),
// and this very binary in the pod role (init, then up to --parallelism shards
// with retries and exponential backoff, then finalize). One tm-sidecar process
// serves the sidecars of all the run's pods (sidecar_server.h), so a pod
// starts no sidecar process, store connection or schema check of its own.
//
// The state dir holds:
//   lock             flock(2)ed for the whole run (and by its sidecars), so a
//                    second run on the same dir exits 2
//   state.db         the SQLite store (unless --postgres)
//   store            which store the journals under work/ belong to
//   work/<pod>/      the work dirs: init, shard-<k>, finalize. Each is removed
//                    (renamed into trash/ first, so removal is atomic) only once
//                    its sidecar exited 0 and its journal is fully acknowledged;
//                    a rerun first drains the ones a crash left behind.
//   logs/<shard>/<ordinal>.log, logs/<shard>/tm-step.log, .../tm-sidecar.log
//                    (each pod's sidecar), logs/tm-sidecar.log (the run's tm-sidecar)
//   run/             this run's scratch: progress and port files, the task list
//
// Single-threaded: one poll loop over a signalfd (SIGINT, SIGTERM, SIGCHLD), the
// socket to the run's tm-sidecar and an inotify watch of run/.
//
// The parts live under local/: run.cc (the run), state_dir.h (the dir and its
// lock), leftovers.h (what an earlier run left), pods.h (a pod's processes and
// the loop), sidecar_server.h (the run's tm-sidecar), shards.h (the fan-out with retries),
// role_outputs.h (what the roles output), console.h (the progress line), report.h (the summary).
#ifndef TASKMASTER_EXECUTOR_LOCAL_H_
#define TASKMASTER_EXECUTOR_LOCAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "taskmaster/env.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step {

struct LocalOptions {
  std::string task_list;  // JSON or @path
  std::string state_dir = ".taskmaster";
  std::string state_key;  // empty: "local-" + the list hash, so the same command resumes
  int64_t batch_size = 1;
  int64_t parallelism = 0;  // 0: the number of CPUs
  // --retries (also --task-retries): failed attempts a task may have before one
  // is final. An interrupted attempt does not count.
  int64_t retries = protocol::kDefaultTaskRetries;
  int64_t quarantine_after = protocol::kDefaultQuarantineAfter;
  int64_t pod_retries = protocol::kDefaultPodRetries;  // a shard runs at most this + 1 times
  double backoff_seconds = 1;                          // before retry n: backoff * 2^(n-1)
  bool continue_on_error = false;
  int64_t max_failures = 0;
  double max_failure_percent = 0;
  double task_timeout_seconds = 0;      // 0: none
  std::string postgres;                 // DSN; empty: SQLite at <state_dir>/state.db
  std::string redis;                    // URL; empty: no live cache
  std::string sidecar;                  // tm-sidecar; empty: beside this executable, else on PATH
  std::vector<std::string> command;     // the task command
  std::vector<std::string> invocation;  // our own argv, to print how to resume
};

// Runs the workflow. Exit codes: 0 the workflow succeeded, 1 it failed (or its
// state could not be made durable), 2 bad input or usage (nothing written when
// the task list is invalid; also when the state dir is in use), 130 after
// SIGINT or SIGTERM (the same command resumes).
int RunLocal(Env* env, const LocalOptions& options);

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_LOCAL_H_
