#include "roles.h"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "signals.h"
#include "step_work_dir.h"
#include "task_runner.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"
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

// Waits for ready and opens the journal with its fence. Exit code on failure.
// `shard`: the shard this step runs (role shard only).
std::optional<int> Attach(StepWorkDir& wd, Signals& signals, const CommonOptions& options,
                          pr::Role role, std::optional<int64_t> shard, pr::Ready* ready) {
  Env* env = wd.env();
  const int64_t deadline =
      env->MonotonicNanos() + static_cast<int64_t>(options.ready_timeout_seconds * kSecond);
  auto got = wd.WaitForReady(deadline, [&] {
    signals.Drain();
    return signals.stopping();
  });
  if (!got.ok()) {
    if (got.status().IsInvalidArgument()) return Usage(got.status());
    spdlog::error("{}", got.status().message());
    return pr::kExitNotDurable;
  }
  const int64_t want_shard = shard.value_or(got->shard);
  if (got->role != role || got->shard != want_shard || got->workflow_id != options.state_key) {
    spdlog::error("{} belongs to {} {} of workflow {}, not to this {} {} of {}",
                  JoinPath(wd.dir(), pr::kReadyFile), pr::ToString(got->role), got->shard,
                  got->workflow_id, pr::ToString(role), want_shard, options.state_key);
    return pr::kExitUsage;
  }
  Status opened = wd.OpenJournal(got->fence, options.sync_journal);
  if (!opened.ok()) {
    spdlog::error("cannot open the journal: {}", opened.message());
    return pr::kExitNotDurable;
  }
  *ready = *got;
  return std::nullopt;
}

// The final barrier: a commit record, then its ack. On timeout the step writes
// the outputs itself with "durable": false and exits 75.
int CommitAndWait(StepWorkDir& wd, Signals& signals, const CommonOptions& options,
                  pr::CommitRecord commit, int exit_code) {
  Env* env = wd.env();
  auto seq = wd.Append(pr::RecordType::kCommit, 0, [&](int64_t s) {
    commit.fence = wd.fence();
    commit.seq = s;
    return pr::Encode(commit);
  });
  if (!seq.ok()) {
    spdlog::error("cannot write the commit record: {}", seq.status().message());
    Status written = wd.WriteOutputsNotDurable(commit);
    if (!written.ok()) spdlog::error("cannot write the outputs: {}", written.message());
    return pr::kExitNotDurable;
  }
  signals.Drain();
  int64_t deadline;
  if (signals.stopping()) {
    deadline = signals.stop_at_ns() + StopBudgetNanos(options.grace_seconds);
  } else {
    deadline = env->MonotonicNanos() + static_cast<int64_t>(AckWaitSeconds(options) * kSecond);
  }
  Status acked = wd.WaitForAck(*seq, deadline);
  if (acked.ok()) return exit_code;
  spdlog::error("{}; writing the outputs without durability (\"durable\": false)", acked.message());
  Status written = wd.WriteOutputsNotDurable(commit);
  if (!written.ok()) spdlog::error("cannot write the outputs: {}", written.message());
  return pr::kExitNotDurable;
}

std::string JsonString(std::string_view s) {
  return JsonQuote(s);
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
  Signals signals;
  StepWorkDir wd(env, common.work_dir);
  pr::Ready ready;
  if (auto code = Attach(wd, signals, common, pr::Role::kShard, options.shard, &ready)) {
    return *code;
  }
  auto restore = wd.ReadShardRestore();
  if (!restore.ok()) return RestoreError("shard", restore.status());

  StepLimits limits;
  limits.task_timeout_seconds = options.task_timeout_seconds;
  limits.grace_seconds = common.grace_seconds;
  limits.deadline_ns = StopDeadlineNanos(env, common);
  limits.ack_wait_seconds = AckWaitSeconds(common);
  TaskRunner runner(&wd, &signals, limits);
  TaskSpec command;
  command.argv = options.command;

  const int64_t shard_tasks = static_cast<int64_t>(restore->tasks.size());
  const int64_t started_ns = env->MonotonicNanos();
  int64_t succeeded = 0, failed = 0, interrupted = 0, cancelled = 0, skipped = 0;
  int64_t final_failures = restore->final_failures;
  spdlog::info("Starting multi-task workflow with {} tasks (shard {} of workflow {}, attempt {})",
               shard_tasks, options.shard, common.state_key, common.attempt);

  int64_t position = 0;
  for (const pr::RestoredTask& task : restore->tasks) {
    ++position;
    const bool done = task.status == TaskStatus::kSucceeded ||
                      task.status == TaskStatus::kCancelled ||
                      (task.status == TaskStatus::kFailed && task.final);
    if (done) {
      ++skipped;
      spdlog::info("Skipping task {} ({}/{}): already {}", task.task_id, position, shard_tasks,
                   ToString(task.status));
      continue;
    }
    signals.Drain();
    if (!signals.stopping() && env->MonotonicNanos() >= limits.deadline_ns) {
      spdlog::warn("stopping before the pod's deadline (ARGO_DEADLINE): no more tasks start");
      signals.Stop(SIGTERM);
    }
    if (signals.stopping()) break;  // left pending: the next attempt runs it
    pr::TaskEndRecord end;
    end.ordinal = task.ordinal;
    end.task_id = task.task_id;
    end.attempt = common.attempt;
    if (!options.continue_on_error && final_failures > options.max_failures) {
      end.status = TaskStatus::kCancelled;
      end.error = "cancelled: " + std::to_string(final_failures) +
                  " tasks failed for good, over --max-failures " +
                  std::to_string(options.max_failures);
      ++cancelled;
      spdlog::info("Cancelling task {} ({}/{}): {}", task.task_id, position, shard_tasks,
                   end.error);
    } else {
      spdlog::info("Processing task {} ({}/{})", task.task_id, position, shard_tasks);
      auto started = wd.Append(pr::RecordType::kTaskStart, 0, [&](int64_t seq) {
        return pr::Encode(pr::TaskStartRecord{wd.fence(), seq, task.ordinal, task.task_id,
                                              common.attempt, env->NowUnixMillis()});
      });
      if (!started.ok()) return JournalError(started.status());
      TaskRun run;
      run.workflow_id = common.state_key;
      run.task_id = task.task_id;
      run.ordinal = task.ordinal;
      run.task_count = restore->task_count;
      run.attempt = common.attempt;
      run.last_attempt = common.last_attempt;
      run.generation = task.generation;
      // The sidecar writes the payload only for a checkpoint that verified; a
      // corrupt one leaves the generation (so new checkpoints still count up
      // past it) and no payload (so the task starts over).
      const std::string payload = wd.RestorePath(pr::RestorePayloadName(task.ordinal));
      if (task.generation > 0 && env->FileExists(payload)) run.checkpoint_path = payload;
      if (!options.log_dir.empty()) {
        if (Status s = env->CreateDirs(options.log_dir); !s.ok()) {
          spdlog::error("cannot create the log dir: {}", s.message());
          return pr::kExitNotDurable;
        }
        command.log_path = JoinPath(options.log_dir, std::to_string(task.ordinal) + ".log");
      }
      auto outcome = runner.Run(command, run);
      if (!outcome.ok()) return JournalError(outcome.status());
      end.status = outcome->status;
      end.final = outcome->final;
      end.exit_code = outcome->exit_code;
      end.error = outcome->error;
      end.duration_ms = outcome->duration_ms;
      const double seconds = static_cast<double>(outcome->duration_ms) / 1000;
      switch (outcome->status) {
        case TaskStatus::kSucceeded:
          ++succeeded;
          spdlog::info("Task {} succeeded in {:.3f} s", task.task_id, seconds);
          break;
        case TaskStatus::kInterrupted:
          ++interrupted;
          spdlog::warn("Task {} interrupted after {:.3f} s: {}", task.task_id, seconds, end.error);
          break;
        default:
          ++failed;
          if (end.final) ++final_failures;
          spdlog::error("Task {} failed{} after {:.3f} s: {}", task.task_id,
                        end.final ? " for good (last attempt)" : "", seconds, end.error);
      }
    }
    end.finished_at_ms = env->NowUnixMillis();
    auto ended = wd.Append(pr::RecordType::kTaskEnd, 0, [&](int64_t seq) {
      end.fence = wd.fence();
      end.seq = seq;
      return pr::Encode(end);
    });
    if (!ended.ok()) return JournalError(ended.status());
  }

  const int64_t duration_ms = (env->MonotonicNanos() - started_ns) / 1000000;
  const bool stopped = signals.stopping();
  const int64_t not_run = shard_tasks - succeeded - failed - interrupted - cancelled - skipped;
  int exit_code = (failed > 0 || interrupted > 0 || not_run > 0) ? pr::kExitFailed : pr::kExitOk;
  spdlog::info(
      "Completed multi-task workflow shard {}: {} succeeded, {} failed, {} interrupted, {} "
      "cancelled, {} skipped, {} not run, in {:.3f} s",
      options.shard, succeeded, failed, interrupted, cancelled, skipped, not_run,
      static_cast<double>(duration_ms) / 1000);

  pr::CommitRecord commit;
  commit.role = pr::Role::kShard;
  commit.outputs[pr::kOutSummary] = fmt::format(
      "{{\"workflow_id\":{},\"shard\":{},\"attempt\":{},\"total\":{},\"succeeded\":{},"
      "\"failed\":{},\"interrupted\":{},\"cancelled\":{},\"skipped\":{},\"not_run\":{},"
      "\"final_failures\":{},\"stopped\":{},\"duration_ms\":{}}}",
      JsonString(common.state_key), options.shard, common.attempt, shard_tasks, succeeded, failed,
      interrupted, cancelled, skipped, not_run, final_failures, stopped ? "true" : "false",
      duration_ms);
  return CommitAndWait(wd, signals, common, std::move(commit), exit_code);
}

int RunInit(Env* env, const InitOptions& options) {
  const CommonOptions& common = options.common;
  // Validate everything before touching the work dir: bad input writes nothing.
  if (Status s = ValidateId(common.state_key, "state key"); !s.ok()) return Usage(s);
  if (options.batch_size < 1) {
    return Usage(Status::InvalidArgument("--batch-size must be at least 1"));
  }
  auto ids = LoadTaskList(env, options.task_list);
  if (!ids.ok()) return Usage(ids.status());
  const int64_t n = static_cast<int64_t>(ids->size());
  const std::string hash = pr::ListHash(*ids);
  const int64_t batch = pr::EffectiveBatchSize(n, options.batch_size);
  if (batch != options.batch_size) {
    spdlog::warn("raising the batch size from {} to {} so that {} tasks fit in {} shards",
                 options.batch_size, batch, n, pr::kMaxShards);
  }

  Signals signals;
  StepWorkDir wd(env, common.work_dir);
  pr::Ready ready;
  if (auto code = Attach(wd, signals, common, pr::Role::kInit, std::nullopt, &ready)) {
    return *code;
  }
  auto restore = wd.ReadInitRestore();
  if (!restore.ok()) return RestoreError("workflow", restore.status());

  std::vector<int64_t> pending;
  if (restore->exists) {
    if (restore->list_hash != hash || restore->task_count != n) {
      return Usage(Status::InvalidArgument(
          "state key " + common.state_key + " already holds a different task list (" +
          std::to_string(restore->task_count) + " tasks, " + restore->list_hash + "; given " +
          std::to_string(n) + " tasks, " + hash +
          "): resume with the same list, or use a new state-key"));
    }
    if (restore->batch_size != options.batch_size) {
      return Usage(Status::InvalidArgument(
          "state key " + common.state_key + " was started with --batch-size " +
          std::to_string(restore->batch_size) + ", not " + std::to_string(options.batch_size) +
          ": resume with the same batch size"));
    }
  }
  // A crash between the workflow_init record and the last task_list record
  // leaves the list recorded only in part: record it again (the store's inserts
  // are idempotent) rather than resume a workflow with tasks missing.
  const bool complete = restore->exists && static_cast<int64_t>(restore->statuses.size()) == n;
  if (restore->exists && !complete) {
    spdlog::warn(
        "the task list of {} was recorded only in part ({} of {} tasks); recording it again",
        common.state_key, restore->statuses.size(), n);
  }
  if (complete) {
    pending = pr::PendingShards(restore->statuses, restore->effective_batch_size);
    spdlog::info("Resuming workflow {}: {} of {} shards still have work", common.state_key,
                 pending.size(), pr::ShardCount(n, batch));
  } else {
    std::vector<pr::TaskListRecord> chunks = pr::ChunkTaskList(*ids);
    auto init = wd.Append(pr::RecordType::kWorkflowInit, 0, [&](int64_t seq) {
      return pr::Encode(pr::WorkflowInitRecord{wd.fence(), seq, common.state_key, n,
                                               options.batch_size, batch, hash,
                                               static_cast<int64_t>(chunks.size())});
    });
    if (!init.ok()) return JournalError(init.status());
    for (pr::TaskListRecord& chunk : chunks) {
      auto appended = wd.Append(pr::RecordType::kTaskList, 0, [&](int64_t seq) {
        chunk.fence = wd.fence();
        chunk.seq = seq;
        return pr::Encode(chunk);
      });
      if (!appended.ok()) return JournalError(appended.status());
    }
    for (int64_t k = 0; k < pr::ShardCount(n, batch); ++k) pending.push_back(k);
    spdlog::info("Recorded workflow {}: {} tasks in {} shards of {}", common.state_key, n,
                 pending.size(), batch);
  }

  std::string shards = "[";
  for (size_t i = 0; i < pending.size(); ++i) {
    if (i > 0) shards += ",";
    shards += std::to_string(pending[i]);
  }
  shards += "]";
  pr::CommitRecord commit;
  commit.role = pr::Role::kInit;
  commit.outputs[pr::kOutShards] = shards;
  commit.outputs[pr::kOutBatchSize] = std::to_string(batch);
  commit.outputs[pr::kOutTaskCount] = std::to_string(n);
  commit.outputs[pr::kOutSummary] = fmt::format(
      "{{\"workflow_id\":{},\"task_count\":{},\"batch_size\":{},\"shards\":{},\"pending_shards\":{}"
      ","
      "\"resumed\":{},\"list_hash\":{}}}",
      JsonString(common.state_key), n, batch, pr::ShardCount(n, batch), pending.size(),
      complete ? "true" : "false", JsonString(hash));
  return CommitAndWait(wd, signals, common, std::move(commit), pr::kExitOk);
}

int RunFinalize(Env* env, const FinalizeOptions& options) {
  const CommonOptions& common = options.common;
  if (Status s = ValidateId(common.state_key, "state key"); !s.ok()) return Usage(s);
  if (options.max_failures < 0)
    return Usage(Status::InvalidArgument("--max-failures must be >= 0"));
  Signals signals;
  StepWorkDir wd(env, common.work_dir);
  pr::Ready ready;
  if (auto code = Attach(wd, signals, common, pr::Role::kFinalize, std::nullopt, &ready)) {
    return *code;
  }
  auto summary = wd.ReadSummaryRestore();
  if (!summary.ok()) return RestoreError("summary", summary.status());
  const TaskCounts& c = summary->counts;
  const int64_t unfinished = c.pending + c.running;
  const bool failed = summary->failed_total > options.max_failures || unfinished > 0;
  if (summary->failed_total > options.max_failures) {
    spdlog::error("Workflow {} failed: {} tasks failed for good, over --max-failures {}",
                  common.state_key, summary->failed_total, options.max_failures);
  } else if (unfinished > 0) {
    spdlog::error("Workflow {} failed: {} tasks never finished", common.state_key, unfinished);
  } else {
    spdlog::info(
        "Completed multi-task workflow {} successfully: {} succeeded, {} failed, {} cancelled",
        common.state_key, c.succeeded, c.failed, c.cancelled);
  }
  std::string failed_ids = "[";
  for (size_t i = 0; i < summary->failed.size(); ++i) {
    if (i > 0) failed_ids += ",";
    failed_ids += JsonString(summary->failed[i].task_id);
  }
  failed_ids += "]";
  pr::CommitRecord commit;
  commit.role = pr::Role::kFinalize;
  commit.outputs[pr::kOutSummary] = fmt::format(
      "{{\"workflow_id\":{},\"status\":\"{}\",\"total\":{},\"succeeded\":{},\"failed\":{},"
      "\"cancelled\":{},\"unfinished\":{},\"max_failures\":{},\"failed_tasks\":{},"
      "\"failed_total\":{}}}",
      JsonString(common.state_key), failed ? "failed" : "succeeded", c.total, c.succeeded,
      summary->failed_total, c.cancelled, unfinished, options.max_failures, failed_ids,
      summary->failed_total);
  commit.outputs[pr::kOutTotal] = std::to_string(c.total);
  commit.outputs[pr::kOutSucceeded] = std::to_string(c.succeeded);
  commit.outputs[pr::kOutFailed] = std::to_string(summary->failed_total);
  commit.outputs[pr::kOutCancelled] = std::to_string(c.cancelled);
  commit.outputs[pr::kOutFailedTasks] = failed_ids;
  return CommitAndWait(wd, signals, common, std::move(commit),
                       failed ? pr::kExitFailed : pr::kExitOk);
}

int Validate(Env* env, const std::string& task_list) {
  auto ids = LoadTaskList(env, task_list);
  if (!ids.ok()) return Usage(ids.status());
  std::cout << "valid task list: " << ids->size() << " tasks, list hash " << pr::ListHash(*ids)
            << "\n";
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
