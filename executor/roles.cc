#include "roles.h"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>

#include "signals.h"
#include "step_work_dir.h"
#include "task_runner.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/json.h"
#include "taskmaster/list_recording.h"
#include "taskmaster/protocol.h"
#include "taskmaster/shell.h"
#include "taskmaster/task_list.h"
#include "taskmaster/time.h"

namespace taskmaster::step {

namespace pr = protocol;

namespace {

constexpr int64_t kSecond = 1000000000;

int Usage(const Status& status) {
  std::cerr << "tm-step: " << status.message() << "\n";
  return pr::kExitUsage;
}

// ARGO_DEADLINE as Argo writes it, Go's time.RFC3339 ("2006-01-02T15:04:05Z07:00":
// whole seconds, "Z" or a +hh:mm/-hh:mm offset), or Go's zero time when the
// workflow has no deadline (nullopt). A fraction of a second is accepted too.
Result<std::optional<int64_t>> ParseArgoDeadline(std::string_view text) {
  constexpr std::string_view kZeroTime = "0001-01-01T00:00:00";
  if (text.substr(0, kZeroTime.size()) == kZeroTime) return std::optional<int64_t>();
  Result<int64_t> deadline = ParseRfc3339(text);
  if (!deadline.ok()) {
    return Status::InvalidArgument("not an RFC 3339 time like 2026-11-29T00:28:02Z");
  }
  return std::optional<int64_t>(*deadline);
}

// How long the step waits for the sidecar to acknowledge a record: the final
// barrier, and each sync checkpoint. min(60, grace - 5) s unless --barrier-timeout.
double AckWaitSeconds(const CommonOptions& options) {
  return options.barrier_timeout_seconds.value_or(
      std::min<double>(pr::kBarrierMaxSeconds, std::max(options.grace_seconds - 5, 1)));
}

// The journal could not be written: nothing more can be made durable.
int JournalError(const Status& status) {
  spdlog::error("cannot write the journal: {}", status.message());
  return pr::kExitNotDurable;
}

// restore/ could not be read: the sidecar did not finish restoring.
int RestoreError(const char* what, const Status& status) {
  spdlog::error("cannot read the restored {}: {}", what, status.ToString());
  return pr::kExitNotDurable;
}

// The monotonic time by which a stop must begin: ARGO_DEADLINE minus the grace period.
int64_t StopDeadlineNanos(Env* env, const CommonOptions& options) {
  if (options.argo_deadline.empty()) return std::numeric_limits<int64_t>::max();
  auto deadline_ms = ParseArgoDeadline(options.argo_deadline);
  if (!deadline_ms.ok()) {
    spdlog::warn("ignoring ARGO_DEADLINE {:?}: {}", options.argo_deadline,
                 deadline_ms.status().message());
    return std::numeric_limits<int64_t>::max();
  }
  if (!deadline_ms->has_value()) return std::numeric_limits<int64_t>::max();
  int64_t left_ms = **deadline_ms - env->NowUnixMillis() - int64_t{options.grace_seconds} * 1000;
  return env->MonotonicNanos() + left_ms * 1000000;
}

// The step of one pod role: its signals and its work dir, attached to the
// sidecar by Attach (ready read, journal opened under its fence) and ended by
// Commit. Construct it only once the input is valid: the signals are blocked
// from then on.
class RoleStep {
 public:
  RoleStep(Env* env, const CommonOptions& options)
      : options_(options), wd_(env, options.work_dir) {}

  Env* env() const { return wd_.env(); }
  StepWorkDir& wd() { return wd_; }
  Signals& signals() { return signals_; }

  // Waits for ready and opens the journal with its fence. Exit code on failure.
  // `shard`: the shard this step runs (role shard only).
  std::optional<int> Attach(pr::Role role, std::optional<int64_t> shard);
  // The final barrier: a commit record with these outputs, then its ack; returns
  // exit_code. On timeout the step writes the outputs itself with "durable":
  // false and returns 75.
  int Commit(pr::Role role, std::map<std::string, std::string> outputs, int exit_code);
  // Tells the sidecar the failure budget the step was given (a budget record),
  // so the store holds it for `tm-sidecar get` and the API. Exit code on failure.
  std::optional<int> RecordBudget(pr::BudgetRecord budget);

 private:
  const CommonOptions& options_;
  Signals signals_;
  StepWorkDir wd_;
};

std::optional<int> RoleStep::Attach(pr::Role role, std::optional<int64_t> shard) {
  const int64_t deadline =
      env()->MonotonicNanos() + static_cast<int64_t>(options_.ready_timeout_seconds * kSecond);
  auto got = wd_.WaitForReady(deadline, [&] {
    signals_.Drain();
    return signals_.stopping();
  });
  if (!got.ok()) {
    if (got.status().IsInvalidArgument()) return Usage(got.status());
    spdlog::error("{}", got.status().message());
    return pr::kExitNotDurable;
  }
  const int64_t want_shard = shard.value_or(got->shard);
  if (got->role != role || got->shard != want_shard || got->workflow_id != options_.state_key) {
    spdlog::error("{} belongs to {} {} of workflow {}, not to this {} {} of {}",
                  JoinPath(wd_.dir(), pr::kReadyFile), pr::ToString(got->role), got->shard,
                  got->workflow_id, pr::ToString(role), want_shard, options_.state_key);
    return pr::kExitUsage;
  }
  Status opened = wd_.OpenJournal(got->fence, options_.sync_journal);
  if (!opened.ok()) {
    spdlog::error("cannot open the journal: {}", opened.message());
    return pr::kExitNotDurable;
  }
  return std::nullopt;
}

std::optional<int> RoleStep::RecordBudget(pr::BudgetRecord budget) {
  auto seq = wd_.Append(pr::RecordType::kBudget, 0, [&](int64_t s) {
    budget.fence = wd_.fence();
    budget.seq = s;
    return pr::Encode(budget);
  });
  if (seq.ok()) return std::nullopt;
  return JournalError(seq.status());
}

int RoleStep::Commit(pr::Role role, std::map<std::string, std::string> outputs, int exit_code) {
  pr::CommitRecord commit;
  commit.role = role;
  commit.outputs = std::move(outputs);
  auto seq = wd_.Append(pr::RecordType::kCommit, 0, [&](int64_t s) {
    commit.fence = wd_.fence();
    commit.seq = s;
    return pr::Encode(commit);
  });
  if (!seq.ok()) {
    spdlog::error("cannot write the commit record: {}", seq.status().message());
    Status written = wd_.WriteOutputsNotDurable(commit);
    if (!written.ok()) spdlog::error("cannot write the outputs: {}", written.message());
    return pr::kExitNotDurable;
  }
  signals_.Drain();
  int64_t deadline;
  if (signals_.stopping()) {
    deadline = signals_.stop_at_ns() + StopBudgetNanos(options_.grace_seconds);
  } else {
    deadline = env()->MonotonicNanos() + static_cast<int64_t>(AckWaitSeconds(options_) * kSecond);
  }
  Status acked = wd_.WaitForAck(*seq, deadline);
  if (acked.ok()) return exit_code;
  spdlog::error("{}; writing the outputs without durability (\"durable\": false)", acked.message());
  Status written = wd_.WriteOutputsNotDurable(commit);
  if (!written.ok()) spdlog::error("cannot write the outputs: {}", written.message());
  return pr::kExitNotDurable;
}

// One attempt at a shard: runs the tasks of restore/shard.json that are not
// done yet, in order, until they are all done or a stop (SIGTERM, SIGINT, the
// pod's deadline) ends it, and tallies them into the shard's summary.
class ShardAttempt {
 public:
  ShardAttempt(const RunOptions& options, RoleStep* step, const pr::ShardRestore& restore);

  // The exit code when the step itself failed (journal, log dir), else nullopt.
  std::optional<int> Run();
  const pr::ShardSummary& summary() const { return summary_; }
  // The step's exit code: 1 when a retry of the pod has work (a failure within
  // its budget, an interruption, a task not run), 4 when the only failures are
  // final, else 0.
  int ExitCode() const;

 private:
  // Whether the attempt stops before its next task; reaching the deadline stops it.
  bool Stopping();
  // Cancels the task: too many final failures and no --continue-on-error.
  void Cancel(const pr::RestoredTask& task, pr::TaskEndRecord* end);
  // Runs the task's command and fills `end` with the outcome.
  std::optional<int> Execute(const pr::RestoredTask& task, pr::TaskEndRecord* end);
  void Tally(const pr::TaskEndRecord& end);

  const RunOptions& options_;
  RoleStep* step_;
  const pr::ShardRestore& restore_;
  StepLimits limits_;
  TaskRunner runner_;
  TaskSpec command_;
  int64_t position_ = 0;     // of the current task in the shard, from 1
  const int64_t tolerated_;  // final failures, before the rest is cancelled
  int64_t retryable_failures_ = 0;
  pr::ShardSummary summary_;
};

StepLimits Limits(Env* env, const RunOptions& options) {
  StepLimits limits;
  limits.task_timeout_seconds = options.task_timeout_seconds;
  limits.grace_seconds = options.common.grace_seconds;
  limits.deadline_ns = StopDeadlineNanos(env, options.common);
  limits.ack_wait_seconds = AckWaitSeconds(options.common);
  return limits;
}

ShardAttempt::ShardAttempt(const RunOptions& options, RoleStep* step,
                           const pr::ShardRestore& restore)
    : options_(options),
      step_(step),
      restore_(restore),
      limits_(Limits(step->env(), options)),
      runner_(&step->wd(), &step->signals(), limits_),
      tolerated_(pr::ToleratedFailures(options.max_failures, options.max_failure_percent,
                                       restore.task_count)) {
  command_.argv = options.command;
  summary_.workflow_id = options.common.state_key;
  summary_.shard = options.shard;
  summary_.attempt = options.common.attempt;
  summary_.total = static_cast<int64_t>(restore.tasks.size());
  summary_.final_failures = restore.final_failures;
}

std::optional<int> ShardAttempt::Run() {
  Env* env = step_->env();
  StepWorkDir& wd = step_->wd();
  const int64_t started_ns = env->MonotonicNanos();
  spdlog::info("Starting multi-task workflow with {} tasks (shard {} of workflow {}, attempt {})",
               summary_.total, options_.shard, options_.common.state_key, options_.common.attempt);
  for (const pr::RestoredTask& task : restore_.tasks) {
    ++position_;
    if (TaskIsDone(task.status, task.final)) {
      ++summary_.skipped;
      spdlog::info("Skipping task {} ({}/{}): already {}", task.task_id, position_, summary_.total,
                   ToString(task.status));
      continue;
    }
    if (Stopping()) break;  // left pending: the next attempt runs it
    pr::TaskEndRecord end;
    end.ordinal = task.ordinal;
    end.task_id = task.task_id;
    end.attempt = options_.common.attempt;
    end.fingerprint = task.fingerprint;
    end.fingerprint_streak = task.fingerprint_streak;
    if (!options_.continue_on_error && summary_.final_failures > tolerated_) {
      Cancel(task, &end);
    } else if (auto code = Execute(task, &end)) {
      return code;
    }
    end.finished_at_ms = env->NowUnixMillis();
    auto ended = wd.Append(pr::RecordType::kTaskEnd, 0, [&](int64_t seq) {
      end.fence = wd.fence();
      end.seq = seq;
      return pr::Encode(end);
    });
    if (!ended.ok()) return JournalError(ended.status());
  }
  summary_.duration_ms = (env->MonotonicNanos() - started_ns) / 1000000;
  summary_.stopped = step_->signals().stopping();
  summary_.not_run = summary_.total - summary_.succeeded - summary_.failed - summary_.interrupted -
                     summary_.cancelled - summary_.skipped;
  return std::nullopt;
}

int ShardAttempt::ExitCode() const {
  if (retryable_failures_ > 0 || summary_.interrupted > 0 || summary_.not_run > 0) {
    return pr::kExitFailed;
  }
  return summary_.failed > 0 ? pr::kExitFailedForGood : pr::kExitOk;
}

bool ShardAttempt::Stopping() {
  Signals& signals = step_->signals();
  signals.Drain();
  if (!signals.stopping() && step_->env()->MonotonicNanos() >= limits_.deadline_ns) {
    spdlog::warn("stopping before the pod's deadline (ARGO_DEADLINE): no more tasks start");
    signals.Stop(SIGTERM);
  }
  return signals.stopping();
}

void ShardAttempt::Cancel(const pr::RestoredTask& task, pr::TaskEndRecord* end) {
  end->status = TaskStatus::kCancelled;
  end->error = "cancelled: " + std::to_string(summary_.final_failures) +
               " tasks failed for good, over --max-failures " +
               std::to_string(options_.max_failures);
  if (options_.max_failure_percent > 0) {
    end->error += fmt::format(" and --max-failure-percent {} ({} tolerated)",
                              options_.max_failure_percent, tolerated_);
  }
  ++summary_.cancelled;
  spdlog::info("Cancelling task {} ({}/{}): {}", task.task_id, position_, summary_.total,
               end->error);
}

std::optional<int> ShardAttempt::Execute(const pr::RestoredTask& task, pr::TaskEndRecord* end) {
  Env* env = step_->env();
  StepWorkDir& wd = step_->wd();
  const CommonOptions& common = options_.common;
  spdlog::info("Processing task {} ({}/{})", task.task_id, position_, summary_.total);
  auto started = wd.Append(pr::RecordType::kTaskStart, 0, [&](int64_t seq) {
    return pr::Encode(pr::TaskStartRecord{wd.fence(), seq, task.ordinal, task.task_id,
                                          common.attempt, env->NowUnixMillis()});
  });
  if (!started.ok()) return JournalError(started.status());
  TaskRun run;
  run.workflow_id = common.state_key;
  run.task_id = task.task_id;
  run.ordinal = task.ordinal;
  run.task_count = restore_.task_count;
  run.attempt = common.attempt;
  run.last_attempt = common.last_attempt;
  run.fence = wd.fence();
  run.failures = task.failures;
  run.task_retries = options_.task_retries;
  run.generation = task.generation;
  run.fingerprint = task.fingerprint;
  run.fingerprint_streak = task.fingerprint_streak;
  run.quarantine_after = options_.quarantine_after;
  // The sidecar writes the payload only for a checkpoint that verified; a
  // corrupt one leaves the generation (so new checkpoints still count up
  // past it) and no payload (so the task starts over).
  const std::string payload = wd.RestorePath(pr::RestorePayloadName(task.ordinal));
  if (task.generation > 0 && env->FileExists(payload)) run.checkpoint_path = payload;
  if (!options_.log_dir.empty()) {
    if (Status s = env->CreateDirs(options_.log_dir); !s.ok()) {
      spdlog::error("cannot create the log dir: {}", s.message());
      return pr::kExitNotDurable;
    }
    command_.log_path = JoinPath(options_.log_dir, std::to_string(task.ordinal) + ".log");
  }
  auto outcome = runner_.Run(command_, run);
  if (!outcome.ok()) return JournalError(outcome.status());
  end->status = outcome->status;
  end->final = outcome->final;
  end->exit_code = outcome->exit_code;
  end->error = outcome->error;
  end->duration_ms = outcome->duration_ms;
  end->fingerprint = outcome->fingerprint;
  end->fingerprint_streak = outcome->fingerprint_streak;
  Tally(*end);
  return std::nullopt;
}

void ShardAttempt::Tally(const pr::TaskEndRecord& end) {
  const double seconds = static_cast<double>(end.duration_ms) / 1000;
  switch (end.status) {
    case TaskStatus::kSucceeded:
      ++summary_.succeeded;
      spdlog::info("Task {} succeeded in {:.3f} s", end.task_id, seconds);
      break;
    case TaskStatus::kInterrupted:
      ++summary_.interrupted;
      spdlog::warn("Task {} interrupted after {:.3f} s: {}", end.task_id, seconds, end.error);
      break;
    // Counted as failed, but not toward the early stop: a quarantined task ends
    // its own retries, not the rest of the run (finalize's verdict counts it).
    case TaskStatus::kQuarantined:
      ++summary_.failed;
      spdlog::error(
          "Task {} quarantined after {:.3f} s: {} failures in a row with fingerprint \"{}\" "
          "(--quarantine-after {}); `tm-sidecar requeue --status quarantined` runs it again: {}",
          end.task_id, seconds, end.fingerprint_streak, end.fingerprint, options_.quarantine_after,
          end.error);
      break;
    default:
      ++summary_.failed;
      if (end.final) {
        ++summary_.final_failures;
      } else {
        ++retryable_failures_;
      }
      spdlog::error("Task {} failed{} after {:.3f} s: {}", end.task_id,
                    end.final ? " for good" : "", seconds, end.error);
  }
}

// Records a new list (or one recorded only in part): the workflow_init record,
// then the list in task_list records, read again from --task-list one record
// at a time. Exit code when the journal fails or the list changed since it was
// digested (the records written are then a prefix of it: recorded in part).
std::optional<int> RecordList(Env* env, StepWorkDir& wd, const InitOptions& options,
                              const TaskListDigest& digest, int64_t batch) {
  auto init = wd.Append(pr::RecordType::kWorkflowInit, 0, [&](int64_t seq) {
    return pr::Encode(pr::WorkflowInitRecord{
        wd.fence(), seq, options.common.state_key, digest.count, options.batch_size, batch,
        digest.list_hash, static_cast<int64_t>(digest.record_hashes.size())});
  });
  if (!init.ok()) return JournalError(init.status());
  std::optional<int> journal_failed;
  Status s = ForEachTaskListRecord(env, options.task_list, digest, [&](pr::TaskListRecord& chunk) {
    auto appended = wd.Append(pr::RecordType::kTaskList, 0, [&](int64_t seq) {
      chunk.fence = wd.fence();
      chunk.seq = seq;
      return pr::Encode(chunk);
    });
    if (!appended.ok()) journal_failed = JournalError(appended.status());
    return appended.status();
  });
  if (journal_failed) return journal_failed;
  if (!s.ok()) {
    spdlog::error("cannot record the task list: {}", s.message());
    return pr::kExitNotDurable;
  }
  return std::nullopt;
}

// The bytes of JSON a --task-list argument holds: the file's size for @path.
// A file that cannot be read is DigestTaskList's to report.
Result<uint64_t> TaskListBytes(Env* env, const std::string& arg) {
  if (arg.front() != '@') return uint64_t{arg.size()};
  return env->FileSize(arg.substr(1));
}

// The `tm-sidecar submit` that records a list under `state_key`, for messages.
std::string SubmitHint(const std::string& state_key) {
  return "`tm-sidecar submit --task-list @FILE --state-key " + ShellQuote(state_key) + "`";
}

std::string OverInlineLimitMessage(const std::string& state_key, uint64_t bytes) {
  return "the task list is " + std::to_string(bytes) + " bytes of JSON, over the " +
         std::to_string(pr::kMaxInlineTaskListBytes) +
         "-byte limit of a list given to init (it travels in the Workflow object): record it in "
         "the store with " +
         SubmitHint(state_key) +
         " and submit the workflow with -p state-key=" + ShellQuote(state_key) +
         " and no task-list";
}

// A new workflow's batch size: the requested one, raised so that the list fits
// in --max-shards shards.
int64_t NewBatchSize(const InitOptions& options, int64_t n) {
  const int64_t batch = pr::EffectiveBatchSize(n, options.batch_size, options.max_shards);
  if (batch != options.batch_size) {
    spdlog::warn(
        "raising the batch size from {} to {} so that {} tasks fit in {} shards "
        "(--max-shards {})",
        options.batch_size, batch, n, pr::ShardCount(n, batch), options.max_shards);
  }
  return batch;
}

// A recorded workflow's batch size: the one it was recorded with, since a
// resume must not re-shard (shard k holds the same tasks in every run),
// whatever --max-shards says now.
int64_t RecordedBatchSize(const InitOptions& options, const pr::InitRestore& recorded) {
  const int64_t batch = recorded.effective_batch_size;
  if (pr::EffectiveBatchSize(recorded.task_count, recorded.batch_size, options.max_shards) !=
      batch) {
    spdlog::info(
        "keeping the recorded batch size {} ({} shards); --max-shards {} applies to new "
        "workflows only",
        batch, pr::ShardCount(recorded.task_count, batch), options.max_shards);
  }
  return batch;
}

// Commits init's outputs: the pending shards, also dealt over --parallelism lanes.
int CommitInit(RoleStep* step, const InitOptions& options, const pr::InitSummary& summary,
               const std::vector<int64_t>& pending) {
  if (!pending.empty()) {
    const int64_t lanes = std::min<int64_t>(options.parallelism, pending.size());
    spdlog::info("{} pending shards in {} lanes of one shard at a time (--parallelism {})",
                 pending.size(), lanes, options.parallelism);
  }
  return step->Commit(pr::Role::kInit, pr::InitOutputs(summary, pending, options.parallelism),
                      pr::kExitOk);
}

// Hands out the shards of a list recorded whole that still have work.
int CommitResume(RoleStep* step, const InitOptions& options, const pr::InitRestore& recorded) {
  const std::string& key = options.common.state_key;
  const int64_t batch = RecordedBatchSize(options, recorded);
  const int64_t shards = pr::ShardCount(recorded.task_count, batch);
  const std::vector<int64_t> pending = pr::PendingShards(recorded.statuses, batch);
  spdlog::info("Resuming workflow {}: {} of {} shards still have work", key, pending.size(),
               shards);
  const pr::InitSummary summary{
      key,  recorded.task_count, batch, shards, static_cast<int64_t>(pending.size()),
      true, recorded.list_hash};
  return CommitInit(step, options, summary, pending);
}

// init without a task list: the list recorded under the state key (by
// `tm-sidecar submit`, the API, or an earlier init), with the batch size
// recorded with it. restore/init.json holds all it takes (hash, counts, batch
// sizes, statuses by ordinal): the IDs stay in the store.
int InitFromStore(Env* env, const InitOptions& options) {
  const std::string& key = options.common.state_key;
  RoleStep step(env, options.common);
  if (auto code = step.Attach(pr::Role::kInit, std::nullopt)) return *code;
  auto restore = step.wd().ReadInitRestore();
  if (!restore.ok()) return RestoreError("workflow", restore.status());
  if (!restore->exists) {
    return Usage(Status::InvalidArgument(
        "no task list given and state key " + key + " has none recorded: record one with " +
        SubmitHint(key) + " and submit the workflow with -p state-key=" + ShellQuote(key) +
        ", or give the list (task-list, --task-list)"));
  }
  if (static_cast<int64_t>(restore->statuses.size()) != restore->task_count) {
    return Usage(Status::InvalidArgument(
        "no task list given and the one recorded under state key " + key + " is incomplete (" +
        std::to_string(restore->statuses.size()) + " of " + std::to_string(restore->task_count) +
        " tasks: recording it was interrupted): record the same list again with " +
        SubmitHint(key) + ", or give it (task-list, --task-list)"));
  }
  if (options.batch_size != restore->batch_size) {
    spdlog::info("using the batch size recorded with the list of {} ({}), not --batch-size {}", key,
                 restore->batch_size, options.batch_size);
  }
  return CommitResume(&step, options, *restore);
}

}  // namespace

Result<std::vector<std::string>> ParseCommandJson(const std::string& json) {
  rapidjson::Document doc;
  if (!ParseJson(json, "--command-json", &doc).ok() || !doc.IsArray() || doc.Empty()) {
    return Status::InvalidArgument("--command-json must be a non-empty JSON array of strings");
  }
  std::vector<std::string> argv;
  for (const auto& item : doc.GetArray()) {
    if (!item.IsString()) {
      return Status::InvalidArgument("--command-json item " + std::to_string(argv.size()) +
                                     " is not a string");
    }
    argv.emplace_back(item.GetString(), item.GetStringLength());
  }
  return argv;
}

int RunShard(Env* env, const RunOptions& options) {
  const CommonOptions& common = options.common;
  if (Status s = ValidateId(common.state_key, "state key"); !s.ok()) return Usage(s);
  if (options.command.empty()) {
    return Usage(Status::InvalidArgument("no task command: give --command-json or -- CMD ARGS"));
  }
  if (Status s = pr::CheckFailurePercent(options.max_failure_percent); !s.ok()) return Usage(s);
  RoleStep step(env, common);
  if (auto code = step.Attach(pr::Role::kShard, options.shard)) return *code;
  pr::BudgetRecord record;
  record.budget.max_failures = options.max_failures;
  record.budget.max_failure_percent = options.max_failure_percent;
  record.budget.task_retries = options.task_retries;
  record.budget.quarantine_after = options.quarantine_after;
  if (auto code = step.RecordBudget(record)) return *code;
  auto restore = step.wd().ReadShardRestore();
  if (!restore.ok()) return RestoreError("shard", restore.status());

  ShardAttempt attempt(options, &step, *restore);
  if (auto code = attempt.Run()) return *code;
  const pr::ShardSummary& s = attempt.summary();
  const int exit_code = attempt.ExitCode();
  spdlog::info(
      "Completed multi-task workflow shard {}: {} succeeded, {} failed, {} interrupted, {} "
      "cancelled, {} skipped, {} not run, in {:.3f} s",
      options.shard, s.succeeded, s.failed, s.interrupted, s.cancelled, s.skipped, s.not_run,
      static_cast<double>(s.duration_ms) / 1000);
  return step.Commit(pr::Role::kShard, pr::ShardOutputs(s), exit_code);
}

int RunInit(Env* env, const InitOptions& options) {
  const CommonOptions& common = options.common;
  // Validate everything before touching the work dir: bad input writes nothing.
  if (Status s = ValidateId(common.state_key, "state key"); !s.ok()) return Usage(s);
  if (options.batch_size < 1) {
    return Usage(Status::InvalidArgument("--batch-size must be at least 1"));
  }
  if (options.task_list.empty()) return InitFromStore(env, options);
  if (!options.no_inline_limit) {
    if (auto bytes = TaskListBytes(env, options.task_list);
        bytes.ok() && *bytes > pr::kMaxInlineTaskListBytes) {
      return Usage(Status::InvalidArgument(OverInlineLimitMessage(common.state_key, *bytes)));
    }
  }
  // Read as a stream, twice: checked and digested now, recorded below.
  auto digest = DigestTaskList(env, options.task_list);
  if (!digest.ok()) return Usage(digest.status());
  const int64_t n = digest->count;
  const std::string& hash = digest->list_hash;

  RoleStep step(env, common);
  if (auto code = step.Attach(pr::Role::kInit, std::nullopt)) return *code;
  auto restore = step.wd().ReadInitRestore();
  if (!restore.ok()) return RestoreError("workflow", restore.status());

  const pr::ResumeVerdict verdict = pr::CheckResume(*restore, hash, n, options.batch_size);
  switch (verdict) {
    case pr::ResumeVerdict::kOtherList:
      return Usage(
          Status::InvalidArgument(pr::OtherListMessage(common.state_key, *restore, hash, n) +
                                  ": resume with the same list, or use a new state-key"));
    case pr::ResumeVerdict::kOtherBatchSize:
      return Usage(Status::InvalidArgument(
          "state key " + common.state_key + " was started with --batch-size " +
          std::to_string(restore->batch_size) + ", not " + std::to_string(options.batch_size) +
          ": resume with the same batch size"));
    case pr::ResumeVerdict::kRecordAgain:
      spdlog::warn(
          "the task list of {} was recorded only in part ({} of {} tasks); recording it again",
          common.state_key, restore->statuses.size(), n);
      break;
    case pr::ResumeVerdict::kNew:
    case pr::ResumeVerdict::kResume:
      break;
  }
  if (verdict == pr::ResumeVerdict::kResume) return CommitResume(&step, options, *restore);
  // A list recorded only in part keeps the batch size it was recorded with.
  const int64_t batch =
      verdict == pr::ResumeVerdict::kRecordAgain && restore->effective_batch_size >= 1
          ? RecordedBatchSize(options, *restore)
          : NewBatchSize(options, n);
  if (auto code = RecordList(env, step.wd(), options, *digest, batch)) return *code;
  std::vector<int64_t> pending;
  for (int64_t k = 0; k < pr::ShardCount(n, batch); ++k) pending.push_back(k);
  spdlog::info("Recorded workflow {}: {} tasks in {} shards of {}", common.state_key, n,
               pending.size(), batch);
  const pr::InitSummary summary{common.state_key,
                                n,
                                batch,
                                pr::ShardCount(n, batch),
                                static_cast<int64_t>(pending.size()),
                                false,
                                hash};
  return CommitInit(&step, options, summary, pending);
}

int RunFinalize(Env* env, const FinalizeOptions& options) {
  const CommonOptions& common = options.common;
  if (Status s = ValidateId(common.state_key, "state key"); !s.ok()) return Usage(s);
  if (options.max_failures < 0)
    return Usage(Status::InvalidArgument("--max-failures must be >= 0"));
  if (Status s = pr::CheckFailurePercent(options.max_failure_percent); !s.ok()) return Usage(s);
  RoleStep step(env, common);
  if (auto code = step.Attach(pr::Role::kFinalize, std::nullopt)) return *code;
  pr::BudgetRecord record;
  record.budget.max_failures = options.max_failures;
  record.budget.max_failure_percent = options.max_failure_percent;
  if (auto code = step.RecordBudget(record)) return *code;
  auto restored = step.wd().ReadSummaryRestore();
  if (!restored.ok()) return RestoreError("summary", restored.status());
  const TaskCounts& c = restored->counts;
  pr::FinalizeSummary summary;
  summary.workflow_id = common.state_key;
  summary.total = c.total;
  summary.succeeded = c.succeeded;
  summary.failed = restored->failed_total;
  summary.cancelled = c.cancelled;
  summary.unfinished = c.pending + c.running;
  summary.max_failures = options.max_failures;
  summary.max_failure_percent = options.max_failure_percent;
  summary.tolerated =
      pr::ToleratedFailures(options.max_failures, options.max_failure_percent, c.total);
  const int64_t tolerated = summary.tolerated;
  for (const pr::FailedTask& task : restored->failed) summary.failed_tasks.push_back(task.task_id);
  summary.failed_total = restored->failed_total;
  if (summary.failed_total > tolerated) {
    spdlog::error(
        "Workflow {} failed: {} tasks failed for good, over the {} tolerated (--max-failures {}, "
        "--max-failure-percent {})",
        common.state_key, summary.failed_total, tolerated, options.max_failures,
        options.max_failure_percent);
  } else if (summary.unfinished > 0) {
    spdlog::error("Workflow {} failed: {} tasks never finished", common.state_key,
                  summary.unfinished);
  } else {
    spdlog::info(
        "Completed multi-task workflow {} successfully: {} succeeded, {} failed, {} cancelled",
        common.state_key, c.succeeded, c.failed, c.cancelled);
  }
  const bool failed = summary.failed_total > tolerated || summary.unfinished > 0;
  summary.status = failed ? WorkflowStatus::kFailed : WorkflowStatus::kSucceeded;
  return step.Commit(pr::Role::kFinalize, pr::FinalizeOutputs(summary),
                     failed ? pr::kExitFailed : pr::kExitOk);
}

int Validate(Env* env, const std::string& task_list) {
  // Streamed: the IDs are counted and hashed as they are read, never kept.
  int64_t count = 0;
  pr::ListHasher hash;
  Status s = ScanTaskListArgument(env, task_list, [&](std::string_view id) {
    ++count;
    hash.Add(id);
    return Status::OK();
  });
  if (!s.ok()) return Usage(s);
  std::cout << "valid task list: " << count << " tasks, list hash " << hash.Digest() << "\n";
  return pr::kExitOk;
}

namespace {

// Reads and verifies a checkpoint file; on failure sets *exit_code (2 when it
// cannot be read, 3 when it is corrupt or truncated) and says why.
std::optional<Checkpoint> ReadCheckpoint(Env* env, const std::string& path, int* exit_code) {
  auto bytes = env->ReadFile(path);
  if (!bytes.ok()) {
    *exit_code = Usage(bytes.status());
    return std::nullopt;
  }
  auto checkpoint = VerifyCheckpoint(*bytes);
  if (!checkpoint.ok()) {
    std::cerr << "tm-step: " << path << ": " << checkpoint.status().message() << "\n";
    *exit_code = pr::kExitCorrupt;
    return std::nullopt;
  }
  return std::move(checkpoint).value();
}

}  // namespace

int CheckpointVerify(Env* env, const std::string& path) {
  int exit_code = pr::kExitOk;
  auto checkpoint = ReadCheckpoint(env, path, &exit_code);
  if (!checkpoint) return exit_code;
  const CheckpointFields& f = checkpoint->fields;
  std::cout << path << ": valid checkpoint of task " << f.task_id << " in workflow "
            << f.workflow_id << " (generation " << f.generation << ", fence " << f.fence << ", seq "
            << f.seq << ", " << checkpoint->payload.size() << " payload bytes, "
            << checkpoint->checksum << ")\n";
  return pr::kExitOk;
}

int CheckpointShow(Env* env, const std::string& path) {
  int exit_code = pr::kExitOk;
  auto checkpoint = ReadCheckpoint(env, path, &exit_code);
  if (!checkpoint) return exit_code;
  std::cout << checkpoint->payload << "\n";
  return pr::kExitOk;
}

int Install(Env* env, const std::string& dir) {
  auto self = env->ReadFile("/proc/self/exe");
  if (!self.ok()) return Usage(self.status());
  if (Status s = env->CreateDirs(dir); !s.ok()) return Usage(s);
  const std::string target = JoinPath(dir, "tm-step");
  Status s = WriteFileAtomic(env, target, *self, /*sync=*/false);
  if (s.ok() && ::chmod(target.c_str(), 0755) != 0) s = Status::FromErrno("chmod " + target, errno);
  if (!s.ok()) {
    std::cerr << "tm-step: install: " << s.message() << "\n";
    return pr::kExitFailed;
  }
  std::cout << "installed " << target << "\n";
  return pr::kExitOk;
}

}  // namespace taskmaster::step
