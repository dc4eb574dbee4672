// One pod-like unit of a local run, as Argo would run it: a work dir, its
// sidecar (served by the run's one tm-sidecar, sidecar_server.h) and (unless it
// only drains a journal left behind) a tm-step in a pod role. It is finished once both processes
// exited and the work dir was removed or, when its journal could not be fully committed, kept for
// the next run to drain. Whoever starts a pod owns it (and through it, its processes); Pods
// (pods.h) starts it and moves it on, so it must stay where it is until it is finished. Not
// thread-safe.
#ifndef TASKMASTER_EXECUTOR_LOCAL_POD_H_
#define TASKMASTER_EXECUTOR_LOCAL_POD_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "task_process.h"
#include "taskmaster/env.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step::local {

struct Pod {
  std::string name;     // work dir name: init, shard-<k>, finalize
  std::string dir;      // the work dir
  std::string log_dir;  // tm-step.log and tm-sidecar.log go here
  std::string state_key;
  protocol::Role role = protocol::Role::kShard;
  int64_t shard = 0;
  int64_t attempt = 0;
  bool drain = false;  // a sidecar alone, draining a journal left behind

  std::unique_ptr<TaskProcess> step;
  std::optional<int> step_exit;  // exit code, or 128 + the signal that killed it
  bool sidecar_started = false;
  // What its own tm-sidecar process would have exited with (that of the run's
  // tm-sidecar, when it died serving the pod).
  std::optional<int> sidecar_exit;
  bool sidecar_stopped = false;  // told to finish, as SIGTERM tells a pod's sidecar
  bool step_killed = false;
  bool redrained = false;
  std::string progress_file;        // shards: N/M from the sidecar
  uint64_t step_log_offset = 0;     // where this pod's lines start in the logs
  uint64_t sidecar_log_offset = 0;  // (they are appended to across attempts and runs)

  bool finished = false;
  bool kept = false;  // the journal still holds unacknowledged records
  std::map<std::string, std::string> outputs;
  std::string restore_summary;  // finalize: restore/summary.json

  bool step_running() const { return step && !step_exit; }
  bool sidecar_running() const { return sidecar_started && !sidecar_exit; }
  // The log of "tm-step" or "tm-sidecar".
  std::string LogPath(const char* program) const {
    return JoinPath(log_dir, std::string(program) + ".log");
  }
};

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_POD_H_
