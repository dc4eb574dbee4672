// Runs one task of a shard: spawns the user's command, serves its fd-3 control
// socket (task_control.h: checkpoints, sync acks, progress, notes), enforces
// the per-task timeout and the stop path of SIGTERM/SIGINT and ARGO_DEADLINE,
// forwards the task's stderr and keeps its last line (stderr_tail.h), and kills
// the task's process group once it is done (a background child holding fd 3 or
// its stderr gets at most protocol::kDrainControlMillis).
#ifndef TASKMASTER_EXECUTOR_TASK_RUNNER_H_
#define TASKMASTER_EXECUTOR_TASK_RUNNER_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "signals.h"
#include "step_work_dir.h"
#include "task_process.h"
#include "taskmaster/state.h"

namespace taskmaster::step {

struct StepLimits {
  double task_timeout_seconds = 0;  // 0: no per-task timeout
  int grace_seconds = 30;
  // Monotonic time by which the step must be stopping (ARGO_DEADLINE - grace).
  int64_t deadline_ns = std::numeric_limits<int64_t>::max();
  // A sync checkpoint not acknowledged by then is answered {"error": ...}, so a
  // dead or fenced-out sidecar cannot hang the task (0: wait without bound).
  double ack_wait_seconds = 0;
};

// After a stop request: the task gets this long to exit before SIGKILL; the
// barrier uses the rest of grace - 5 s.
int64_t ChildStopBudgetNanos(int grace_seconds);
int64_t StopBudgetNanos(int grace_seconds);

struct TaskRun {
  std::string workflow_id;
  std::string task_id;
  int64_t ordinal = 0;
  int64_t task_count = 0;
  int64_t attempt = 0;
  int64_t last_attempt = 0;
  int64_t fence = 0;            // the writer's (TM_FENCE)
  int64_t failures = 0;         // failed attempts before this one (stored)
  int64_t task_retries = 0;     // failures allowed before one is final
  int64_t generation = 0;       // checkpoints already committed for the task
  std::string checkpoint_path;  // restored payload for TM_CHECKPOINT; empty: none
  // The restored failure streak (protocol::RestoredTask) and --quarantine-after.
  std::string fingerprint;
  int64_t fingerprint_streak = 0;
  int64_t quarantine_after = 0;  // 0: never
};

struct TaskOutcome {
  TaskStatus status = TaskStatus::kFailed;
  // A failure is final once the task's failures exceed its retry budget, or on
  // the pod's last attempt (nothing would run it again); an interruption never is.
  bool final = false;
  std::optional<int> exit_code;
  // Empty on success; "interrupted by SIG<name>" for an interruption; for a
  // failure how the command ended ("exited with code 1", "killed by signal 9
  // (SIGKILL)", "timed out after 30 s"), then ": " and the last line the task
  // wrote to stderr that is not blank, when there is one (at most
  // kMaxStderrLineBytes); a command that cannot run: why (exit code 127).
  std::string error;
  int64_t duration_ms = 0;
  // The failure streak after this attempt (protocol::TaskEndRecord).
  std::string fingerprint;
  int64_t fingerprint_streak = 0;
};

// Carries the failure streak over to `outcome` (docs/protocol.md,
// "Quarantine"): a failure's fingerprint (ErrorFingerprint of its exit code and
// error) equal to the restored one makes the streak one longer, another starts
// it at 1, and a streak that reaches run.quarantine_after (when set) turns the
// failure into kQuarantined, final. A success clears the streak; an
// interruption keeps it as it was (it says nothing about the task).
void ApplyFailureStreak(const TaskRun& run, TaskOutcome* outcome);

class TaskRunner {
 public:
  TaskRunner(StepWorkDir* work_dir, Signals* signals, StepLimits limits)
      : work_dir_(work_dir), signals_(signals), limits_(limits) {}

  // The outcome of the task. A non-OK Status means the journal could not be
  // written: nothing more can be made durable, and the step exits 75.
  Result<TaskOutcome> Run(const TaskSpec& command, const TaskRun& run);

 private:
  StepWorkDir* work_dir_;
  Signals* signals_;
  StepLimits limits_;
};

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_TASK_RUNNER_H_
