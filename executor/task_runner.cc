#include "task_runner.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "stderr_tail.h"
#include "task_control.h"
#include "taskmaster/fingerprint.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step {

namespace pr = protocol;

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr int64_t kMilli = 1000000;
constexpr int64_t kSecond = 1000000000;

// The command with the environment a task sees (DESIGN.md §6).
TaskSpec TaskSpecFor(const TaskSpec& command, const TaskRun& run, int grace_seconds) {
  TaskSpec spec = command;
  spec.set_env[pr::kEnvTaskId] = run.task_id;
  spec.set_env[pr::kEnvTaskIndex] = std::to_string(run.ordinal);
  spec.set_env[pr::kEnvTaskCount] = std::to_string(run.task_count);
  spec.set_env[pr::kEnvWorkflowId] = run.workflow_id;
  spec.set_env[pr::kEnvAttempt] = std::to_string(run.attempt);
  spec.set_env[pr::kEnvControlFd] = std::to_string(pr::kControlFd);
  spec.set_env[pr::kEnvFence] = std::to_string(run.fence);
  spec.set_env[pr::kEnvIdempotencyKey] =
      pr::IdempotencyKey(run.workflow_id, run.task_id, run.fence);
  spec.set_env[pr::kEnvGracePeriod] = std::to_string(ChildStopBudgetNanos(grace_seconds) / kSecond);
  if (run.checkpoint_path.empty()) {
    spec.unset_env.push_back(pr::kEnvCheckpoint);
  } else {
    spec.set_env[pr::kEnvCheckpoint] = run.checkpoint_path;
  }
  // A task's stderr passes through us: its last line says why it failed.
  spec.capture_stderr_tail = true;
  return spec;
}

std::string DescribeExit(int wait_status, std::optional<int>* exit_code) {
  if (WIFEXITED(wait_status)) {
    *exit_code = WEXITSTATUS(wait_status);
    return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
  }
  int sig = WTERMSIG(wait_status);
  *exit_code = 128 + sig;
  const char* name = sigabbrev_np(sig);
  return std::string("killed by signal ") + std::to_string(sig) +
         (name ? std::string(" (SIG") + name + ")" : "");
}

// How a task's process ended.
struct Ending {
  int wait_status = 0;
  bool interrupted = false;  // SIGTERMed on a stop request or a journal failure
  bool timed_out = false;    // SIGTERMed at the per-task timeout
  std::string stderr_line;   // its last stderr line that is not blank (StderrTail); may be empty
};

// The escalation that ends a task: SIGTERM on a stop request (or a journal
// that can no longer be written) or at the per-task timeout, SIGKILL once the
// task's budget is spent; after the task exited, fd 3 and its stderr are still
// read for protocol::kDrainControlMillis (a background child may hold them open).
class StopSchedule {
 public:
  StopSchedule(int64_t timeout_at_ns, int grace_seconds)
      : timeout_at_ns_(timeout_at_ns), grace_seconds_(grace_seconds) {}

  // Acts on the clock. `stop`: the step is stopping or the journal failed. True
  // once the task is reaped and fd 3 and its stderr are closed or drained.
  bool Advance(int64_t now, bool stop, TaskProcess* process) {
    // A task that already exited keeps its own outcome: a stop during the fd-3
    // drain only ends the drain. So reap first: the stop and the task's exit may
    // have arrived in the same wake-up.
    if (!process->reaped() && process->TryReap(&ending_.wait_status)) {
      drain_until_ns_ = now + pr::kDrainControlMillis * kMilli;
    }
    if (!term_sent_ && !process->reaped() && stop) {
      ending_.interrupted = true;
      Terminate(process, now + ChildStopBudgetNanos(grace_seconds_));
    }
    if (process->reaped() && stop) drain_until_ns_ = now;
    if (!term_sent_ && !process->reaped() && now >= timeout_at_ns_) {
      ending_.timed_out = true;
      Terminate(process,
                now + std::min<int64_t>(5 * kSecond, ChildStopBudgetNanos(grace_seconds_)));
    }
    if (!kill_sent_ && now >= kill_at_ns_) {
      process->SignalGroup(SIGKILL);
      kill_sent_ = true;
    }
    return process->reaped() &&
           ((process->control_fd() < 0 && process->stderr_fd() < 0) || now >= drain_until_ns_);
  }

  // Only deadlines still ahead: one already acted on must not wake the loop again.
  int64_t next_deadline_ns() const {
    return std::min(
        {term_sent_ ? kNever : timeout_at_ns_, kill_sent_ ? kNever : kill_at_ns_, drain_until_ns_});
  }

  const Ending& ending() const { return ending_; }

 private:
  void Terminate(TaskProcess* process, int64_t kill_at_ns) {
    process->SignalGroup(SIGTERM);
    term_sent_ = true;
    kill_at_ns_ = kill_at_ns;
  }

  const int64_t timeout_at_ns_;
  const int grace_seconds_;
  int64_t kill_at_ns_ = kNever;
  int64_t drain_until_ns_ = kNever;
  bool term_sent_ = false;
  bool kill_sent_ = false;
  Ending ending_;
};

// One task's poll loop, from spawn until it is reaped and fd 3 and its stderr
// are drained: the step's signals and deadline, the task's stop schedule, its
// fd-3 control, its stderr and the ack file.
class Supervision {
 public:
  Supervision(StepWorkDir* work_dir, Signals* signals, const StepLimits& limits,
              TaskProcess* process, const TaskRun& run, int64_t start_ns)
      : work_dir_(work_dir),
        signals_(signals),
        limits_(limits),
        process_(process),
        control_(work_dir, process, run, limits.ack_wait_seconds),
        stderr_(process),
        schedule_(limits.task_timeout_seconds > 0
                      ? start_ns + static_cast<int64_t>(limits.task_timeout_seconds * kSecond)
                      : kNever,
                  limits.grace_seconds) {}

  // How the task ended; non-OK when the journal failed or poll did.
  Result<Ending> Run() {
    while (true) {
      const int64_t now = work_dir_->env()->MonotonicNanos();
      if (now >= limits_.deadline_ns && !signals_->stopping()) {
        spdlog::warn("stopping before the pod's deadline (ARGO_DEADLINE)");
        signals_->Stop(SIGTERM);
      }
      if (schedule_.Advance(now, signals_->stopping() || !control_.fatal().ok(), process_)) break;
      control_.ServeAcks(now);
      TM_RETURN_IF_ERROR(Wait(now));
    }
    control_.Finish();
    // What the task wrote just before it exited may not have been polled yet (a
    // stop ends the drain at once): it is in the pipe now, and one bounded read
    // takes it without waiting for a background child that keeps the pipe open.
    stderr_.Read();
    process_->SignalGroup(SIGKILL);
    process_->CloseControl();
    process_->CloseStderr();
    if (!control_.fatal().ok()) return control_.fatal();
    Ending ending = schedule_.ending();
    ending.stderr_line = stderr_.LastLine();
    return ending;
  }

 private:
  // One poll: signals, fd 3 unless back-pressured, the task's stderr, the ack
  // file while something waits on it, and the next deadline.
  Status Wait(int64_t now) {
    struct pollfd fds[4];
    int nfds = 0;
    fds[nfds++] = {signals_->fd(), POLLIN, 0};
    // Once the task exited, what it left on fd 3 is read even over the bound.
    const int control_index =
        (process_->control_fd() >= 0 && (!control_.backpressured() || process_->reaped())) ? nfds
                                                                                           : -1;
    if (control_index >= 0) fds[nfds++] = {process_->control_fd(), POLLIN, 0};
    const int stderr_index = process_->stderr_fd() >= 0 ? nfds : -1;
    if (stderr_index >= 0) fds[nfds++] = {process_->stderr_fd(), POLLIN, 0};
    const bool watch_acks = control_.waiting_for_acks();
    if (watch_acks && work_dir_->watcher().fd() >= 0) {
      fds[nfds++] = {work_dir_->watcher().fd(), POLLIN, 0};
    }
    if (::poll(fds, nfds, TimeoutMillis(now, watch_acks)) < 0 && errno != EINTR) {
      return Status::FromErrno("poll", errno);
    }
    if (fds[0].revents & POLLIN) signals_->Drain();
    if (watch_acks) work_dir_->watcher().Drain();
    if (control_index >= 0 && fds[control_index].revents) control_.Read();
    if (stderr_index >= 0 && fds[stderr_index].revents) stderr_.Read();
    return Status::OK();
  }

  int TimeoutMillis(int64_t now, bool watch_acks) const {
    int64_t wake =
        std::min(schedule_.next_deadline_ns(), signals_->stopping() ? kNever : limits_.deadline_ns);
    if (watch_acks) wake = std::min(wake, now + pr::kReadyPollMillis * kMilli);
    wake = std::min(wake, control_.next_give_up_ns());
    if (wake == kNever) return -1;
    return static_cast<int>(std::clamp<int64_t>((wake - now + kMilli - 1) / kMilli, 0, 60000));
  }

  StepWorkDir* work_dir_;
  Signals* signals_;
  const StepLimits& limits_;
  TaskProcess* process_;
  TaskControl control_;
  StderrTail stderr_;
  StopSchedule schedule_;
};

// "<how it ended>: <last stderr line>", or how it ended alone when the task
// wrote no line to stderr. The account comes first: the store recognises a
// timeout by its "timed out after " prefix.
std::string FailureError(std::string how, const std::string& stderr_line) {
  if (stderr_line.empty()) return how;
  return how + ": " + stderr_line;
}

// An interrupted attempt keeps the stop's name alone: its stderr most likely
// says it was stopped, not why it would have failed.
TaskOutcome OutcomeOf(const Ending& ending, int stop_signal, double task_timeout_seconds) {
  TaskOutcome outcome;
  if (ending.interrupted) {
    outcome.status = TaskStatus::kInterrupted;
    DescribeExit(ending.wait_status, &outcome.exit_code);
    const char* name = sigabbrev_np(stop_signal);
    outcome.error = std::string("interrupted by SIG") + (name ? name : "TERM");
  } else if (ending.timed_out) {
    outcome.status = TaskStatus::kFailed;
    DescribeExit(ending.wait_status, &outcome.exit_code);
    outcome.error = FailureError(fmt::format("timed out after {:g} s", task_timeout_seconds),
                                 ending.stderr_line);
  } else {
    std::string how = DescribeExit(ending.wait_status, &outcome.exit_code);
    if (WIFEXITED(ending.wait_status) && WEXITSTATUS(ending.wait_status) == 0) {
      outcome.status = TaskStatus::kSucceeded;
    } else {
      outcome.status = TaskStatus::kFailed;
      outcome.error = FailureError(std::move(how), ending.stderr_line);
    }
  }
  return outcome;
}

// A command that cannot be executed fails like a shell's "command not found".
TaskOutcome SpawnFailure(const Status& status) {
  TaskOutcome outcome;
  outcome.status = TaskStatus::kFailed;
  outcome.exit_code = 127;
  outcome.error = status.message();
  return outcome;
}

}  // namespace

int64_t StopBudgetNanos(int grace_seconds) {
  return std::max<int64_t>(grace_seconds - 5, 1) * kSecond;
}

int64_t ChildStopBudgetNanos(int grace_seconds) {
  return StopBudgetNanos(grace_seconds) * 6 / 10;
}

Result<TaskOutcome> TaskRunner::Run(const TaskSpec& command, const TaskRun& run) {
  Env* env = work_dir_->env();
  const int64_t start_ns = env->MonotonicNanos();
  TaskOutcome outcome;
  auto spawned = TaskProcess::Spawn(TaskSpecFor(command, run, limits_.grace_seconds));
  if (spawned.ok()) {
    auto ending = Supervision(work_dir_, signals_, limits_, spawned->get(), run, start_ns).Run();
    if (!ending.ok()) return ending.status();
    outcome = OutcomeOf(*ending, signals_->stop_signal(), limits_.task_timeout_seconds);
  } else {
    outcome = SpawnFailure(spawned.status());
  }
  outcome.duration_ms = (env->MonotonicNanos() - start_ns) / kMilli;
  outcome.final = outcome.status == TaskStatus::kFailed &&
                  (run.failures + 1 > run.task_retries || run.attempt >= run.last_attempt);
  ApplyFailureStreak(run, &outcome);
  return outcome;
}

void ApplyFailureStreak(const TaskRun& run, TaskOutcome* outcome) {
  switch (outcome->status) {
    case TaskStatus::kSucceeded:
      outcome->fingerprint.clear();
      outcome->fingerprint_streak = 0;
      return;
    case TaskStatus::kFailed:
      break;
    default:
      outcome->fingerprint = run.fingerprint;
      outcome->fingerprint_streak = run.fingerprint_streak;
      return;
  }
  std::string fingerprint = ErrorFingerprint(outcome->exit_code, outcome->error);
  outcome->fingerprint_streak = fingerprint == run.fingerprint ? run.fingerprint_streak + 1 : 1;
  outcome->fingerprint = std::move(fingerprint);
  if (run.quarantine_after > 0 && outcome->fingerprint_streak >= run.quarantine_after) {
    outcome->status = TaskStatus::kQuarantined;
    outcome->final = true;
  }
}

}  // namespace taskmaster::step
