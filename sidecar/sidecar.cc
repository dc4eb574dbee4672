#include "sidecar.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>

#include "cache_refill.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/dir_watcher.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

constexpr int64_t kMilli = 1000000;
constexpr int64_t kSecond = 1000000000;

// The finalize step's verdict, from its summary output.
std::optional<WorkflowStatus> FinalStatus(const pr::CommitRecord& commit) {
  auto it = commit.outputs.find(pr::kOutSummary);
  if (it == commit.outputs.end()) return std::nullopt;
  auto summary = pr::DecodeFinalizeSummary(it->second);
  if (!summary.ok()) return std::nullopt;
  return summary->status;
}

}  // namespace

Sidecar::Sidecar(Env* env, SidecarOptions options, StateStore* store, LiveCache* cache,
                 Metrics* metrics, Health* health)
    : env_(env),
      options_(std::move(options)),
      store_(store),
      cache_(cache),
      metrics_(metrics),
      health_(health),
      store_retry_(env, Backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000),
                                DefaultRandomSource())),
      cache_retry_(env, Backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000),
                                DefaultRandomSource())) {}

void Sidecar::RequestStop() {
  if (stop_requested_) return;
  stop_requested_ = true;
  stop_at_ns_ = env_->MonotonicNanos();
  spdlog::info("stop requested: draining the journal until the step's commit record");
}

int Sidecar::Start() {
  // The store may still be starting, or held by a frozen earlier attempt (its
  // fence row locked until PostgreSQL ends that transaction): retry transient
  // failures with backoff until --store-wait runs out, then give up with 75.
  const int64_t give_up =
      env_->MonotonicNanos() + static_cast<int64_t>(options_.store_wait_seconds * kSecond);
  auto with_retries = [&](const char* what, const std::function<Status()>& op) -> Status {
    RetryHooks hooks;
    hooks.on_failure = [&](const Status& s) {
      metrics_->store_errors_total(options_.store_name, StatusKind(s)).Inc();
      metrics_->store_up(options_.store_name).Set(0);
    };
    hooks.on_retry = [&](const Status& s) {
      spdlog::warn("{}: store not available yet ({}); retrying", what, s.message());
    };
    hooks.stop = [&] { return stop_requested_; };
    return RetryTransient(&store_retry_, give_up, op, hooks);
  };

  Status s = with_retries("schema", [&] {
    if (options_.schema_checked) return Status::OK();
    return options_.role == pr::Role::kInit ? store_->Migrate() : store_->CheckSchema();
  });
  if (!s.ok()) {
    if (IsTransient(s)) {
      spdlog::error("store unreachable at start: {}", s.ToString());
      return pr::kExitNotDurable;
    }
    // Only init migrates: a shard or finalize pod on an unmigrated store came too early.
    spdlog::error("store: {}{}", s.ToString(),
                  s.IsInvalidArgument() && options_.role != pr::Role::kInit
                      ? "; the init step migrates the schema: run init first"
                      : "");
    return s.IsInvalidArgument() ? pr::kExitUsage : pr::kExitFailed;
  }
  metrics_->store_up(options_.store_name).Set(1);
  health_->store_up = true;

  const bool adopt = env_->FileExists(JoinPath(options_.work_dir, pr::kReadyFile));
  s = with_retries(adopt ? "adopt" : "restore", [&] { return adopt ? Adopt() : Restore(); });
  if (!s.ok()) {
    spdlog::error("{}: {}", adopt ? "cannot adopt the work dir" : "restore failed", s.ToString());
    if (s.IsNotFound() || s.IsInvalidArgument()) return pr::kExitUsage;
    return IsTransient(s) ? pr::kExitNotDurable : pr::kExitFailed;
  }
  auto reader =
      JournalReader::Open(env_, JoinPath(options_.work_dir, pr::kJournalFile), ack_.offset);
  if (!reader.ok()) {
    spdlog::error("cannot open the journal: {}", reader.status().ToString());
    return pr::kExitFailed;
  }
  reader_ = std::move(reader).value();
  if (options_.sync) {
    // Opened for appending but never written: the step is the only writer.
    auto journal = env_->NewAppendableFile(JoinPath(options_.work_dir, pr::kJournalFile));
    if (!journal.ok()) {
      spdlog::error("cannot open the journal: {}", journal.status().ToString());
      return pr::kExitFailed;
    }
    journal_sync_ = std::move(journal).value();
  }
  health_->restored = true;
  WriteProgress();
  return -1;
}

Status Sidecar::WriteRestoreFile(const std::string& name, const std::string& content) {
  const std::string path = JoinPath(JoinPath(options_.work_dir, pr::kRestoreDir), name);
  TM_RETURN_IF_ERROR(env_->CreateDirs(DirName(path)));
  if (!options_.sync) return WriteFileAtomic(env_, path, content + "\n", FileSync::kNone);
  // The names are made durable together, one SyncDir per directory before
  // `ready` (SyncRestoreDirs), not one per file.
  restore_dirs_.insert(DirName(path));
  return WriteFileAtomic(env_, path, content + "\n", FileSync::kContents);
}

Status Sidecar::SyncRestoreDirs() {
  for (const std::string& dir : restore_dirs_) TM_RETURN_IF_ERROR(env_->SyncDir(dir));
  restore_dirs_.clear();
  return Status::OK();
}

Status Sidecar::Restore() {
  TM_RETURN_IF_ERROR(env_->CreateDirs(options_.work_dir));
  // The journal must start empty under a new fence: a fresh work dir has none.
  const std::string journal = JoinPath(options_.work_dir, pr::kJournalFile);
  if (!env_->FileExists(journal)) {
    auto created = env_->NewAppendableFile(journal);
    if (!created.ok()) return created.status();
  }
  Writer writer{options_.state_key, options_.role, options_.shard};
  auto fence = store_->AcquireFence(writer);
  if (!fence.ok()) return fence.status();
  fence_ = *fence;

  switch (options_.role) {
    case pr::Role::kInit: {
      auto init = store_->LoadInit(options_.state_key);
      if (!init.ok()) return init.status();
      TM_RETURN_IF_ERROR(WriteRestoreFile(pr::kRestoreInitFile, pr::Encode(*init)));
      break;
    }
    case pr::Role::kShard: {
      auto data = store_->LoadShard(options_.state_key, options_.shard);
      if (!data.ok()) {
        if (data.status().IsNotFound()) {
          return Status::NotFound("workflow " + options_.state_key +
                                  " has no task list recorded for shard " +
                                  std::to_string(options_.shard) + ": run init first");
        }
        return data.status();
      }
      for (pr::RestoredTask& task : data->restore.tasks) {
        auto doc = data->documents.find(task.ordinal);
        if (doc == data->documents.end()) continue;
        auto checkpoint = VerifyCheckpoint(doc->second);
        if (!checkpoint.ok()) {
          // Nothing corrupt reaches the step: no payload file, so the task starts
          // over. Its generation stays, so its new checkpoints are numbered past
          // the stored one and are not refused as older.
          metrics_->checkpoint_operations_total("restore", "corrupt").Inc();
          spdlog::error("checkpoint of task {} is corrupt ({}); the task starts over", task.task_id,
                        checkpoint.status().message());
          continue;
        }
        metrics_->checkpoint_operations_total("restore", "ok").Inc();
        TM_RETURN_IF_ERROR(WriteRestoreFile(pr::RestoreCheckpointName(task.ordinal), doc->second));
        TM_RETURN_IF_ERROR(
            WriteRestoreFile(pr::RestorePayloadName(task.ordinal), checkpoint->payload));
      }
      TM_RETURN_IF_ERROR(WriteRestoreFile(pr::kRestoreShardFile, pr::Encode(data->restore)));
      for (const pr::RestoredTask& task : data->restore.tasks) {
        ordinals_[task.task_id] = task.ordinal;
        terminal_[task.ordinal] = TaskIsDone(task.status, task.final);
      }
      shard_tasks_ = static_cast<int64_t>(data->restore.tasks.size());
      RepublishShard(*data);
      break;
    }
    case pr::Role::kFinalize: {
      auto summary = store_->LoadSummary(options_.state_key);
      if (!summary.ok()) return summary.status();
      TM_RETURN_IF_ERROR(WriteRestoreFile(pr::kRestoreSummaryFile, pr::Encode(*summary)));
      break;
    }
  }
  TM_RETURN_IF_ERROR(SyncRestoreDirs());
  pr::Ready ready;
  ready.fence = fence_;
  ready.workflow_id = options_.state_key;
  ready.role = options_.role;
  ready.shard = options_.shard;
  // Local mode: restore/ is durable, names and all, before `ready` is; its
  // SyncDir makes the journal's name durable too.
  TM_RETURN_IF_ERROR(WriteFileAtomic(env_, JoinPath(options_.work_dir, pr::kReadyFile),
                                     pr::Encode(ready) + "\n", options_.sync));
  spdlog::info("restored {} {} of workflow {} with fence {}", pr::ToString(options_.role),
               options_.shard, options_.state_key, fence_);
  return Status::OK();
}

Status Sidecar::Adopt() {
  // A restarted sidecar keeps the live step's fence and resumes from its ack.
  auto text = env_->ReadFile(JoinPath(options_.work_dir, pr::kReadyFile));
  if (!text.ok()) return text.status();
  auto ready = pr::DecodeReady(*text);
  if (!ready.ok()) return ready.status();
  if (ready->workflow_id != options_.state_key || ready->role != options_.role ||
      ready->shard != options_.shard) {
    return Status::InvalidArgument("work dir " + options_.work_dir + " belongs to " +
                                   pr::ToString(ready->role) + " " + std::to_string(ready->shard) +
                                   " of workflow " + ready->workflow_id);
  }
  fence_ = ready->fence;
  auto ack_text = env_->ReadFile(JoinPath(options_.work_dir, pr::kAckFile));
  if (ack_text.ok()) {
    auto ack = pr::DecodeAck(*ack_text);
    if (!ack.ok()) return ack.status();
    ack_ = *ack;
  }
  last_seq_ = ack_.seq;
  if (options_.role == pr::Role::kShard) {
    auto shard_text = env_->ReadFile(
        JoinPath(JoinPath(options_.work_dir, pr::kRestoreDir), pr::kRestoreShardFile));
    if (!shard_text.ok()) return shard_text.status();
    auto shard = pr::DecodeShardRestore(*shard_text);
    if (!shard.ok()) return shard.status();
    for (const pr::RestoredTask& task : shard->tasks) ordinals_[task.task_id] = task.ordinal;
    shard_tasks_ = static_cast<int64_t>(shard->tasks.size());
    // Tasks may have become durable after restore/ was written (before this
    // sidecar was restarted): the store, not restore/, says which are terminal.
    auto stored = store_->LoadShard(options_.state_key, options_.shard);
    if (!stored.ok()) return stored.status();
    for (const pr::RestoredTask& task : stored->restore.tasks) {
      terminal_[task.ordinal] = TaskIsDone(task.status, task.final);
    }
  }
  spdlog::info("adopted the work dir of {} {} (fence {}), resuming after record {}",
               pr::ToString(options_.role), options_.shard, fence_, ack_.seq);
  return Status::OK();
}

void Sidecar::ResetBatch() {
  batch_ = Batch{};
  batch_.writer = Writer{options_.state_key, options_.role, options_.shard};
  batch_.pod = options_.pod_name;
  batch_.fence = fence_;
}

bool Sidecar::AddRecord(const JournalRecord& record) {
  batch_end_offset_ = record.end_offset;
  last_seq_ = static_cast<int64_t>(record.seq);
  batch_.max_seq = std::max<int64_t>(batch_.max_seq, static_cast<int64_t>(record.seq));
  auto bad = [&](const Status& s) {
    metrics_->store_errors_total(options_.store_name, "record").Inc();
    spdlog::error("skipping journal record {} ({}): {}", record.seq,
                  pr::ToString(static_cast<pr::RecordType>(record.type)), s.message());
    return false;
  };
  switch (static_cast<pr::RecordType>(record.type)) {
    case pr::RecordType::kWorkflowInit: {
      auto r = pr::DecodeWorkflowInit(record.payload);
      if (!r.ok()) return bad(r.status());
      batch_.init = *r;
      return false;
    }
    case pr::RecordType::kTaskList: {
      auto r = pr::DecodeTaskList(record.payload);
      if (!r.ok()) return bad(r.status());
      batch_.task_lists.push_back(std::move(r).value());
      // A chunk of the list is flushed on its own, so recording a list of any
      // length holds one chunk's IDs at a time.
      return true;
    }
    case pr::RecordType::kTaskStart: {
      auto r = pr::DecodeTaskStart(record.payload);
      if (!r.ok()) return bad(r.status());
      batch_.starts.push_back(std::move(r).value());
      return false;
    }
    case pr::RecordType::kCheckpoint: {
      auto checkpoint = VerifyCheckpoint(record.payload);
      if (!checkpoint.ok()) {
        metrics_->checkpoint_operations_total("save", "corrupt").Inc();
        return bad(checkpoint.status());
      }
      auto ordinal = ordinals_.find(checkpoint->fields.task_id);
      if (ordinal == ordinals_.end()) {
        return bad(Status::InvalidArgument("task " + checkpoint->fields.task_id +
                                           " is not in this shard"));
      }
      batch_.checkpoints.push_back(CheckpointWrite{static_cast<int64_t>(record.seq),
                                                   ordinal->second, checkpoint->fields.task_id,
                                                   checkpoint->fields.generation, record.payload});
      return (record.flags & pr::kFlagSync) != 0;
    }
    case pr::RecordType::kProgress: {
      auto r = pr::DecodeProgress(record.payload);
      if (!r.ok()) return bad(r.status());
      batch_.progress.push_back(*r);
      return false;
    }
    case pr::RecordType::kNote: {
      auto r = pr::DecodeNote(record.payload);
      if (!r.ok()) return bad(r.status());
      batch_.notes.push_back(std::move(r).value());
      return false;
    }
    case pr::RecordType::kTaskEnd: {
      auto r = pr::DecodeTaskEnd(record.payload);
      if (!r.ok()) return bad(r.status());
      batch_.ends.push_back(std::move(r).value());
      return false;
    }
    case pr::RecordType::kBudget: {
      auto r = pr::DecodeBudget(record.payload);
      if (!r.ok()) return bad(r.status());
      batch_.budget = *r;
      return false;
    }
    case pr::RecordType::kCommit: {
      auto r = pr::DecodeCommit(record.payload);
      if (!r.ok()) return bad(r.status());
      if (options_.role == pr::Role::kFinalize) batch_.final_status = FinalStatus(*r);
      batch_.commit = std::move(r).value();
      return true;
    }
  }
  return bad(Status::Corruption("unknown record type " + std::to_string(record.type)));
}

bool Sidecar::Flush() {
  if (batch_.size() == 0 && !batch_.commit && batch_.max_seq <= ack_.seq) return true;
  const int64_t t0 = env_->MonotonicNanos();
  if (journal_sync_) {
    // Group commit: the step appends without syncing; one fdatasync here makes
    // every record of the batch durable in the journal before the store has it.
    if (Status s = journal_sync_->Sync(); !s.ok()) {
      metrics_->store_errors_total(options_.store_name, "journal").Inc();
      spdlog::warn("cannot sync the journal before a flush: {}", s.ToString());
      return false;
    }
  }
  auto result = store_->Apply(batch_);
  if (!result.ok()) {
    metrics_->store_errors_total(options_.store_name, StatusKind(result.status())).Inc();
    metrics_->store_up(options_.store_name).Set(0);
    health_->store_up = false;
    spdlog::warn("flush of {} records failed: {}", batch_.size(), result.status().ToString());
    return false;
  }
  store_retry_.Succeeded();
  metrics_->store_up(options_.store_name).Set(1);
  health_->store_up = true;
  if (result->fenced) {
    metrics_->fence_rejections_total().Inc(static_cast<double>(batch_.size()));
    if (!fenced_out_) {
      spdlog::error("a newer attempt owns {} {} of workflow {}: this attempt's records are refused",
                    pr::ToString(options_.role), options_.shard, options_.state_key);
    }
    fenced_out_ = true;
    ResetBatch();
    return true;
  }
  metrics_->flush_duration_seconds(options_.store_name)
      .Observe(static_cast<double>(env_->MonotonicNanos() - t0) / kSecond);
  metrics_->flush_batch_records().Observe(static_cast<double>(batch_.size()));
  for (const auto& end : batch_.ends) {
    metrics_->tasks_total(options_.state_key, ToString(end.status)).Inc();
    metrics_->task_duration_seconds(options_.state_key, ToString(end.status))
        .Observe(static_cast<double>(end.duration_ms) / 1000);
    terminal_[end.ordinal] = TaskIsDone(end.status, end.final);
  }
  // Before init is durable the workflow has no row: its state is all zeros.
  if (result->state.created_at_ms > 0) {
    ExportWorkflowState(result->state, env_->NowUnixMillis(), metrics_);
  }
  if (!batch_.checkpoints.empty()) {
    metrics_->checkpoint_operations_total("save", "ok")
        .Inc(static_cast<double>(batch_.checkpoints.size()));
  }
  // Everything Argo and a scrape read — the outputs, the progress, the metrics —
  // is in place before the ack: the step may exit the moment it sees it.
  if (batch_.commit) {
    Status s = pr::WriteOutputs(env_, options_.work_dir, *batch_.commit, /*durable=*/true);
    if (!s.ok()) spdlog::error("cannot write the outputs: {}", s.ToString());
    commit_durable_ = true;
    health_->done = true;
    const double seconds = static_cast<double>(env_->MonotonicNanos() - started_ns_) / kSecond;
    metrics_
        ->workflow_duration_seconds(
            "multi-task", batch_.final_status ? ToString(*batch_.final_status) : "committed")
        .Observe(seconds);
  }
  if (!batch_.ends.empty()) WriteProgress();
  // The step's last batch reaches Redis before its ack: the step exits on that
  // ack and nobody retries the pod, so a sidecar killed between the ack and
  // the publish would leave Redis behind the store for good. (Any other batch
  // a killed sidecar did not publish is published again by the restore of the
  // pod's next attempt.) For the same reason a sidecar whose earlier publishes
  // failed refills the workflow now, without waiting out its backoff: batches
  // skipped while it was dirty are in no other sidecar's hands.
  const bool published = batch_.commit.has_value();
  if (published) {
    PublishToCache(result->state, result->checkpoints, /*refill_now=*/true);
  }
  ack_.seq = batch_.max_seq;
  ack_.offset = batch_end_offset_;
  UpdateJournalLag();
  // Local mode: the ack's bytes are synced before its name, so an ack the disk
  // keeps is whole; the rename itself need not be durable at once. An older ack
  // found after a power loss only has the rerun apply again records the store
  // already holds, which are no-ops (their (fence, seq) is not greater).
  Status acked =
      WriteFileAtomic(env_, JoinPath(options_.work_dir, pr::kAckFile), pr::Encode(ack_) + "\n",
                      options_.sync ? FileSync::kContents : FileSync::kNone);
  if (!acked.ok()) spdlog::error("cannot write the ack: {}", acked.ToString());
  if (!published) PublishToCache(result->state, result->checkpoints);
  ResetBatch();
  return true;
}

void Sidecar::PublishToCache(const WorkflowState& state,
                             const std::map<std::string, std::string>& checkpoints,
                             bool refill_now) {
  if (cache_ == nullptr) return;
  if (!cache_dirty_) {
    auto doc = WorkflowCheckpointDocument(state, fence_, ack_.seq, env_->NowUnixMillis());
    // A Redis restarted empty, flushed or evicting has lost the workflow: this
    // batch alone would leave the earlier checkpoints missing, so it is refused
    // (NotFound) and the workflow is refilled whole from the store.
    Status s = doc.ok() ? cache_->PublishChanges(ShardWriter{options_.shard, fence_, ack_.seq},
                                                 state, checkpoints, *doc)
                        : doc.status();
    if (s.ok()) {
      metrics_->store_up("redis").Set(1);
      return;
    }
    if (!s.IsNotFound()) {
      CacheFailed(s);
      return;
    }
    cache_dirty_ = true;
  }
  if (refill_now || cache_retry_.Due()) RefillCache();
}

void Sidecar::RepublishShard(const ShardData& data) {
  if (cache_ == nullptr || data.documents.empty()) return;
  // An earlier attempt's sidecar may have died between committing a batch and
  // publishing it: its checkpoints are in the store and not in Redis. This
  // attempt, the shard's writer now, publishes what it restored, compared, as
  // its first batch, so Redis catches up before the tasks go on.
  auto state = store_->LoadWorkflowState(options_.state_key);
  if (!state.ok()) {
    CacheFailed(state.status());
    return;
  }
  std::map<std::string, std::string> checkpoints;
  for (const pr::RestoredTask& task : data.restore.tasks) {
    auto doc = data.documents.find(task.ordinal);
    if (doc != data.documents.end()) checkpoints[task.task_id] = doc->second;
  }
  PublishToCache(*state, checkpoints);
}

void Sidecar::CacheFailed(const Status& s) {
  // Degraded, not failed: the store has everything; the cache is refilled later,
  // with backoff so that a Redis that is down does not slow the flush loop.
  if (!cache_dirty_) {
    spdlog::warn("redis write failed ({}); workflow {} marked dirty, refilled from the store later",
                 s.message(), options_.state_key);
  }
  cache_dirty_ = true;
  cache_retry_.Failed();
  metrics_->store_errors_total("redis", StatusKind(s)).Inc();
  metrics_->store_up("redis").Set(0);
}

void Sidecar::RefillCache() {
  auto state = store_->LoadWorkflowState(options_.state_key);
  if (!state.ok()) {
    // Nothing to publish yet (a workflow whose init is not durable), or the store
    // failed: the next flush tries again.
    if (!state.status().IsNotFound()) {
      cache_retry_.Failed();
    }
    return;
  }
  bool store_failed = false;
  auto refilled = RefillCacheFromStore(store_, cache_, *state, fence_, ack_.seq,
                                       env_->NowUnixMillis(), &store_failed);
  if (!refilled.ok()) {
    // The store's failure is retried later; Redis's marks the cache dirty.
    if (store_failed) {
      cache_retry_.Failed();
    } else {
      CacheFailed(refilled.status());
    }
    return;
  }
  cache_dirty_ = false;
  cache_retry_.Succeeded();
  metrics_->store_up("redis").Set(1);
  spdlog::info("redis refilled for workflow {}", options_.state_key);
}

void Sidecar::UpdateJournalLag() {
  auto size = env_->FileSize(JoinPath(options_.work_dir, pr::kJournalFile));
  if (size.ok()) {
    metrics_->journal_lag_bytes().Set(
        static_cast<double>(*size > ack_.offset ? *size - ack_.offset : 0));
  }
}

void Sidecar::WriteProgress() {
  if (options_.progress_file.empty() || options_.role != pr::Role::kShard || shard_tasks_ <= 0) {
    return;
  }
  int64_t done = 0;
  for (const auto& [ordinal, terminal] : terminal_) done += terminal ? 1 : 0;
  // Argo parses the last line as N/M; write a whole file and rename it into place.
  Status s = WriteFileAtomic(env_, options_.progress_file,
                             std::to_string(done) + "/" + std::to_string(shard_tasks_) + "\n",
                             /*sync=*/false);
  if (!s.ok()) spdlog::warn("cannot write the Argo progress file: {}", s.message());
}

std::optional<int> Sidecar::Begin(std::unique_ptr<DirWatcher> watcher) {
  started_ns_ = env_->MonotonicNanos();
  watcher_ = std::move(watcher);
  if (int code = Start(); code >= 0) return code;
  ResetBatch();
  // Not every append: the journal is read once a tick, and at once when the
  // step pokes (closes a descriptor on it) after a record it waits on.
  if (watcher_) {
    watcher_->Watch(options_.work_dir);
  } else {
    watcher_ = std::make_unique<DirWatcher>(options_.work_dir, DirWatcher::kReplaced);
  }
  wake_ns_ = started_ns_;
  next_tick_ns_ = started_ns_ + options_.flush_max_millis * kMilli;
  return std::nullopt;
}

int Sidecar::watch_fd() const {
  return watcher_ ? watcher_->fd() : -1;
}

bool Sidecar::ReadRecords() {
  while (!corrupt_ && batch_.size() < static_cast<size_t>(options_.flush_max_records)) {
    JournalRecord record;
    JournalReader::Outcome outcome = reader_->Next(&record);
    if (outcome == JournalReader::Outcome::kRecord) {
      if (static_cast<int64_t>(record.seq) <= ack_.seq) continue;  // acknowledged before
      if (AddRecord(record)) return true;
      continue;
    }
    if (outcome == JournalReader::Outcome::kCorrupt) {
      corrupt_ = true;
      metrics_->store_errors_total(options_.store_name, "journal").Inc();
      spdlog::error("journal is corrupt: {}; records after it cannot be read", reader_->message());
    }
    break;
  }
  return false;
}

// How long finalize's sidecar keeps refilling a Redis that missed writes.
constexpr int64_t kFinalRefillSeconds = 10;

std::optional<int> Sidecar::Turn() {
  watcher_->Drain();
  const int64_t now = env_->MonotonicNanos();
  const int64_t stop_budget = std::max<int64_t>(options_.grace_seconds - 2, 1) * kSecond;
  if (stop_requested_ && (commit_durable_ || now - stop_at_ns_ >= stop_budget || fenced_out_)) {
    if (batch_.size() > 0 || batch_.commit) Flush();
    if (commit_durable_ && cache_dirty_ && cache_ != nullptr &&
        options_.role == pr::Role::kFinalize) {
      // The workflow is done, but Redis missed some of it (it was down or
      // restarting): no sidecar comes after finalize's to refill it, so this
      // one keeps trying, for what is left of its stop budget but at most
      // kFinalRefillSeconds (a Redis that stays away must not hold the
      // workflow's end for long).
      const int64_t give_up_ns = stop_at_ns_ + std::min(stop_budget, kFinalRefillSeconds * kSecond);
      if (now < give_up_ns) {
        if (now >= cache_retry_.due_ns()) RefillCache();
        if (cache_dirty_) {
          wake_ns_ = std::min(std::max(cache_retry_.due_ns(), now), give_up_ns);
          return std::nullopt;
        }
      } else {
        spdlog::warn(
            "redis is still behind the store for workflow {}; the next sidecar that finds it "
            "missing refills it, or run: tm-sidecar rebuild-cache {}",
            options_.state_key, options_.state_key);
      }
    }
    if (!commit_durable_ && !fenced_out_) {
      spdlog::warn("stopping before the step's commit record; {} records acknowledged", ack_.seq);
    }
    return pr::kExitOk;
  }
  const bool flush_now = ReadRecords();
  const bool full = batch_.size() >= static_cast<size_t>(options_.flush_max_records);
  // Group commit: the journal is read and what it held flushed once a tick
  // (flush_max_millis), and at once for a record the step waits on (it pokes
  // us), a full batch or a stop.
  const int64_t read_ns = env_->MonotonicNanos();
  const bool tick = read_ns >= next_tick_ns_;
  if (tick) next_tick_ns_ = read_ns + options_.flush_max_millis * kMilli;
  bool flushed = false;
  if ((flush_now || full || tick || stop_requested_ || batch_.commit) &&
      now >= store_retry_.due_ns()) {
    flushed = Flush();
    if (!flushed) store_retry_.Failed();
  }
  if (cache_dirty_ && cache_ != nullptr && now >= store_retry_.due_ns() &&
      now >= cache_retry_.due_ns()) {
    RefillCache();
  }
  if (!corrupt_) UpdateJournalLag();
  if (flushed && (full || flush_now)) {
    wake_ns_ = now;  // more records may be waiting already
    return std::nullopt;
  }
  // Until the next tick, a poke, or when the store may be tried again; a stop
  // waits out its budget a tick at a time.
  int64_t wake = next_tick_ns_;
  if (store_retry_.due_ns() > now) wake = std::max(std::min(wake, store_retry_.due_ns()), now);
  wake_ns_ = wake;
  return std::nullopt;
}

int Sidecar::Run(SignalFd* signals) {
  auto drain_signals = [&] {
    if (signals == nullptr) return;
    for (int signal : signals->Drain()) {
      if (signal == SIGTERM || signal == SIGINT) RequestStop();
    }
  };
  drain_signals();
  if (auto code = Begin()) return *code;
  while (true) {
    drain_signals();
    if (auto code = Turn()) return *code;
    struct pollfd fds[2] = {{signals != nullptr ? signals->fd() : -1, POLLIN, 0},
                            {watch_fd(), POLLIN, 0}};
    ::poll(fds, 2, MillisUntil(env_->MonotonicNanos(), wake_ns_));
  }
}

int MillisUntil(int64_t now_ns, int64_t wake_ns) {
  // Rounded up: a wake due in 0.4 ms must not spin until then with zero timeouts.
  return static_cast<int>(std::clamp<int64_t>((wake_ns - now_ns + kMilli - 1) / kMilli, 0, 60000));
}

}  // namespace taskmaster::sidecar
