// The sidecar of one pod (DESIGN.md §1, §4, §5): restores the step's state from
// the durable store (or adopts a work dir that already has `ready`), tails the
// journal, commits batches to the store, acknowledges them, then updates Redis,
// the Argo progress file and the outputs. Single-threaded; the HTTP server reads
// only `Metrics` and `Health`.
#ifndef TASKMASTER_SIDECAR_SIDECAR_H_
#define TASKMASTER_SIDECAR_SIDECAR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cache/live_cache.h"
#include "metrics.h"
#include "retry.h"
#include "store/state_store.h"
#include "taskmaster/env.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"
#include "taskmaster/signal_fd.h"

namespace taskmaster::sidecar {

struct SidecarOptions {
  std::string state_key;
  protocol::Role role = protocol::Role::kShard;
  int64_t shard = 0;
  std::string work_dir = ".";
  int grace_seconds = protocol::kDefaultGraceSeconds;
  std::string progress_file;  // empty: no Argo progress
  // Local mode (the work dir outlives the pod): fsync the restore files and
  // the ack, and make the journal durable (one fdatasync per flush, for every
  // record the step appended since) before the store commits it, so an ack
  // never covers journal bytes a power loss could take back.
  bool sync = false;
  std::string store_name = "postgres";  // metric label: "postgres" or "sqlite"
  double store_wait_seconds = 60;       // at start, before exit 75
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

 private:
  int Start();
  Status Restore();
  Status Adopt();
  Status WriteRestoreFile(const std::string& name, const std::string& content);
  // Adds a record to the pending batch. True when it must be flushed at once.
  bool AddRecord(const JournalRecord& record);
  // Commits the pending batch. False when the store failed (the batch is kept).
  bool Flush();
  void PublishToCache(const ApplyResult& result);
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
  Batch batch_;
  uint64_t batch_end_offset_ = 0;
  int64_t batch_started_ns_ = 0;
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

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_SIDECAR_H_
