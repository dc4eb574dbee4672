// How local mode starts its own children — the pods' steps and the run's
// tm-sidecar — and reads how they ended.
#ifndef TASKMASTER_EXECUTOR_LOCAL_CHILDREN_H_
#define TASKMASTER_EXECUTOR_LOCAL_CHILDREN_H_

#include <string>
#include <vector>

#include "task_process.h"

namespace taskmaster::step::local {

// A child stays in our process group (so `kill -9 -PGID` takes everything),
// gets SIGTERM when we die (a step stops and commits, a sidecar drains), reads
// /dev/null, and appends its output to log_path. Of the TM_* and ARGO_*
// variables it inherits only the tuning knobs (TM_GRACE_SECONDS,
// TM_READY_TIMEOUT, ...): the others are ours to set, so a stray export cannot
// misdirect it.
TaskSpec ChildSpec(std::vector<std::string> argv, const std::string& log_path);

// A wait(2) status as an exit code: the code, or 128 + the signal.
int DecodeWaitStatus(int status);

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_CHILDREN_H_
