// The sidecar of one pod (DESIGN.md §1, §4, §5): restores the step's state from
// the durable store (or adopts a work dir that already has `ready`), tails the
// journal, commits batches to the store, acknowledges them, then updates Redis,
// the Argo progress file and the outputs. Single-threaded; the HTTP server reads
// only `Metrics` and `Health`. A pod's tm-sidecar calls Run; local mode's one
// sidecar for a whole run (pod_server.h) drives many through Begin and Turn
// from one loop.
#ifndef TASKMASTER_SIDECAR_SIDECAR_H_
#define TASKMASTER_SIDECAR_SIDECAR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "cache/live_cache.h"
#include "metrics.h"
#include "retry.h"
#include "store/state_store.h"
#include "taskmaster/dir_watcher.h"
#include "taskmaster/env.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"
#include "taskmaster/signal_fd.h"

namespace taskmaster::sidecar {

struct SidecarOptions {
  std::string state_key;
  protocol::Role role = protocol::Role::kShard;
  int64_t shard = 0;
  std::string pod_name;  // recorded with each task attempt (its hostname unless given)
  std::string work_dir = ".";
  int grace_seconds = protocol::kDefaultGraceSeconds;
  std::string progress_file;  // empty: no Argo progress
  // Local mode (the work dir outlives the pod): fsync `restore/`, `ready` and
  // the ack's bytes, and make the journal durable (one fdatasync per flush,
  // for every record the step appended since) before the store commits it, so
  // an ack never covers journal bytes a power loss could take back.
  bool sync = false;
  std::string store_name = "postgres";  // metric label: "postgres" or "sqlite"
  double store_wait_seconds = 60;       // at start, before exit 75
  // The store's schema is known to be current (local mode's sidecar for every
  // pod checked it for an earlier pod): neither migrate nor check it again.
  bool schema_checked = false;
  // A batch holds at most this many records; the journal is read and what it
  // held flushed once per flush_max_millis (a tick), and at once when the step
  // pokes (after a record it waits on).
  int64_t flush_max_records = protocol::kFlushMaxRecords;
  int64_t flush_max_millis = protocol::kFlushMaxMillis;
};

// What /healthz and /readyz report; written by the loop, read by HTTP threads.
struct Health {
  std::atomic<bool> restored{false};
  std::atomic<bool> store_up{false};
  std::atomic<bool> done{false};  // the commit record is durable
};

class Sidecar {
 public:
  // cache may be null (no Redis configured).
  Sidecar(Env* env, SidecarOptions options, StateStore* store, LiveCache* cache, Metrics* metrics,
          Health* health);

  // Runs until the step's commit record is durable and a stop was requested,
  // or the grace period after the stop ran out. SIGTERM or SIGINT from
  // `signals` request the stop (null: none; stop via RequestStop); not owned.
  // Returns the exit code (DESIGN.md §9: 0, 1 runtime failure, 2 bad config,
  // 75 store unreachable at start).
  int Run(SignalFd* signals);
  void RequestStop();

  // Run in parts, for a loop that serves several sidecars: Begin restores (or
  // adopts) and returns the exit code when it failed; then, until a Turn returns
  // the exit code, Turn whenever watch_fd() is readable or wake_ns() passed.
  // Begin watches the work dir with `watcher` when given one (another
  // sidecar's, from TakeWatcher), else with a new one.
  std::optional<int> Begin(std::unique_ptr<DirWatcher> watcher = nullptr);
  // Reads what the journal holds and flushes what is due.
  std::optional<int> Turn();
  // Readable when the work dir changed (the journal grew); -1 before Begin.
  int watch_fd() const;
  // Env::MonotonicNanos by which Turn must run again.
  int64_t wake_ns() const { return wake_ns_; }
  // The watcher, for the next sidecar to reuse once this one is done (or null).
  std::unique_ptr<DirWatcher> TakeWatcher() { return std::move(watcher_); }

 private:
  int Start();
  Status Restore();
  Status Adopt();
  Status WriteRestoreFile(const std::string& name, const std::string& content);
  // Local mode: makes the names of the restore files durable, once per directory.
  Status SyncRestoreDirs();
  // Adds a record to the pending batch. True when it must be flushed at once.
  bool AddRecord(const JournalRecord& record);
  // Adds the records the journal holds to the batch, up to a full one. True
  // when one of them must be flushed at once (a commit, a sync checkpoint).
  bool ReadRecords();
  // Commits the pending batch. False when the store failed (the batch is kept).
  bool Flush();
  // Publishes a committed batch (the workflow's state after it and the
  // checkpoints it made) to Redis; a Redis that lost the workflow, or a cache
  // marked dirty, has it refilled whole when cache_retry_ is due, or at once
  // with refill_now.
  void PublishToCache(const WorkflowState& state,
                      const std::map<std::string, std::string>& checkpoints,
                      bool refill_now = false);
  // A shard's restored checkpoints published again (Restore).
  void RepublishShard(const ShardData& data);
  // Marks the cache dirty after a failed Redis operation; refilled when cache_retry_ is due.
  void CacheFailed(const Status& s);
  void RefillCache();
  void WriteProgress();
  void UpdateJournalLag();
  void ResetBatch();

  Env* env_;
  SidecarOptions options_;
  StateStore* store_;
  LiveCache* cache_;
  Metrics* metrics_;
  Health* health_;
  RetrySchedule store_retry_;  // the store at start, then each flush
  RetrySchedule cache_retry_;  // refilling a dirty cache

  int64_t fence_ = 0;
  std::unique_ptr<JournalReader> reader_;
  std::unique_ptr<WritableFile> journal_sync_;  // local mode: the journal, only to fdatasync it
  std::unique_ptr<DirWatcher> watcher_;         // the work dir, from Begin on
  std::set<std::string> restore_dirs_;          // local mode: written, their names not synced yet
  int64_t wake_ns_ = 0;
  bool corrupt_ = false;  // the journal is damaged past the last record read
  Batch batch_;
  uint64_t batch_end_offset_ = 0;
  int64_t next_tick_ns_ = 0;  // when the journal is read and flushed next without a poke
  protocol::Ack ack_;
  bool fenced_out_ = false;
  bool cache_dirty_ = false;  // refilled from the store once cache_retry_ is due
  bool commit_durable_ = false;
  bool stop_requested_ = false;
  int64_t stop_at_ns_ = 0;
  int64_t started_ns_ = 0;
  int64_t last_seq_ = 0;

  // Shard role: task ID -> ordinal, and which ordinals are durably terminal.
  std::map<std::string, int64_t> ordinals_;
  std::map<int64_t, bool> terminal_;
  int64_t shard_tasks_ = 0;
};

// Milliseconds from now_ns until wake_ns for poll(2): rounded up, 0 when past.
int MillisUntil(int64_t now_ns, int64_t wake_ns);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_SIDECAR_H_
