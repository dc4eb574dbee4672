// StateStore: the durable source of truth (DESIGN.md §4) — PostgreSQL in a
// cluster, SQLite locally. The sidecar restores from it, takes fences from it and
// applies batches of journal records to it; Redis (live_cache.h) is written only
// after a batch is committed here, and restore never reads Redis.
//
// Every write is conditional on the writer's (fence, seq): one fence row per
// (workflow, role, shard). A batch applies only if its fence equals the stored
// fence; records whose seq is not greater than the stored seq are skipped. So a
// zombie attempt, a replayed journal and a late duplicate are all no-ops, and
// counts are derived from task rows, never incremented.
//
// Implementations are built by a factory from validated config (store_factory.h).
// One StateStore object is used by one thread at a time.
#ifndef TASKMASTER_SIDECAR_STORE_STATE_STORE_H_
#define TASKMASTER_SIDECAR_STORE_STATE_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/task_reads.h"
#include "taskmaster/protocol.h"
#include "taskmaster/state.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// Who writes: one step of one workflow (its fence row).
struct Writer {
  std::string workflow_id;
  protocol::Role role = protocol::Role::kShard;
  int64_t shard = 0;  // 0 for init and finalize
};

// A checkpoint record, decoded and verified by the sidecar.
struct CheckpointWrite {
  int64_t seq = 0;
  int64_t ordinal = 0;
  std::string task_id;
  int64_t generation = 0;
  std::string document;  // the exact checkpoint document bytes (no newline)
};

// The records of one flush from one journal, in journal order, all with one fence.
struct Batch {
  Writer writer;
  int64_t fence = 0;
  std::string pod;  // the step's pod name (hostname), for its task attempts; may be empty
  std::optional<protocol::WorkflowInitRecord> init;
  std::vector<protocol::TaskListRecord> task_lists;
  std::vector<protocol::TaskStartRecord> starts;
  std::vector<CheckpointWrite> checkpoints;
  std::vector<protocol::ProgressRecord> progress;
  std::vector<protocol::NoteRecord> notes;
  std::vector<protocol::TaskEndRecord> ends;
  std::optional<protocol::CommitRecord> commit;
  // The failure budget the step was given; the last one of the batch.
  std::optional<protocol::BudgetRecord> budget;
  // For a finalize commit: the workflow's final status ("succeeded"/"failed").
  std::optional<WorkflowStatus> final_status;
  int64_t max_seq = 0;  // the highest seq in the batch
  size_t size() const;
};

struct ApplyResult {
  bool fenced = false;  // the whole batch was refused: a newer fence owns the writer
  int64_t applied = 0;  // records that took effect
  int64_t skipped = 0;  // records at or below the stored seq (replays)
  WorkflowState state;  // after the batch (version grown if anything applied)
  // Current checkpoint documents this batch made, by task ID, for the cache.
  std::map<std::string, std::string> checkpoints;
};

// A restored shard: what restore/shard.json holds, plus the verified documents.
struct ShardData {
  protocol::ShardRestore restore;
  std::map<int64_t, std::string> documents;  // ordinal -> current checkpoint document
};

// Which tasks `tm-sidecar requeue` makes pending again: tasks that failed for
// good (status failed, final).
struct RequeueRequest {
  // kFailed: tasks that failed for good; kQuarantined: quarantined ones;
  // nullopt (with task_ids only): either.
  std::optional<TaskStatus> status = TaskStatus::kFailed;
  // These tasks by ID, each of which must be in `status`; nullopt: every task
  // of the workflow in `status`.
  std::optional<std::vector<std::string>> task_ids;
  // Also while tasks are pending or running (a run that was stopped and will
  // not go on); else such a workflow is refused.
  bool force = false;
};

struct RequeueResult {
  int64_t requeued = 0;
  WorkflowState before;  // the workflow as it was
  WorkflowState after;   // and as the transaction left it
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Creates or upgrades the schema to the current version (idempotent; safe
  // when several processes run it at once).
  virtual Status Migrate() = 0;
  // OK when the schema is at the current version; InvalidArgument naming both
  // versions when it is older or newer; Unavailable when unreachable.
  virtual Status CheckSchema() = 0;

  // Bumps the writer's fence (creating its row): the stored pair becomes
  // (fence + 1, 0). Returns the new fence.
  virtual Result<int64_t> AcquireFence(const Writer& writer) = 0;

  virtual Result<protocol::InitRestore> LoadInit(const std::string& workflow_id) = 0;
  // NotFound when the workflow was never initialized.
  virtual Result<ShardData> LoadShard(const std::string& workflow_id, int64_t shard) = 0;
  virtual Result<protocol::WorkflowSummary> LoadSummary(const std::string& workflow_id) = 0;
  // NotFound when the workflow was never initialized.
  virtual Result<WorkflowState> LoadWorkflowState(const std::string& workflow_id) = 0;
  // Every task's current checkpoint document, by task ID (for rebuild-cache).
  virtual Result<std::map<std::string, std::string>> LoadCheckpoints(
      const std::string& workflow_id) = 0;
  // The fence each shard's writer holds (role shard), by shard. Fences only
  // grow, so read after LoadCheckpoints it covers the writer of every document
  // that returned (the live cache's guards, live_cache.h).
  virtual Result<std::map<int64_t, int64_t>> LoadShardFences(const std::string& workflow_id) = 0;

  // A page of the workflow's tasks (task_reads.h). NotFound when the workflow
  // was never initialized.
  virtual Result<TaskPage> ListTasks(const std::string& workflow_id, const TaskQuery& query) = 0;
  // One task by ID with its kept attempts. NotFound naming the workflow or the
  // task when either is unknown.
  virtual Result<TaskHistory> LoadTaskHistory(const std::string& workflow_id,
                                              const std::string& task_id) = 0;

  // Applies one batch in one transaction (see the file comment). A budget
  // record sets the workflow's FailureBudget (state.h); its null members keep
  // the stored ones. Each task
  // start adds the task's next attempt row (task_reads.h), each task end
  // completes the row of its fence, and attempts beyond the last
  // kAttemptsKeptPerTask of a task are deleted, all in the same transaction.
  virtual Result<ApplyResult> Apply(const Batch& batch) = 0;

  // Makes the requested tasks pending again for the next run, in one
  // transaction: status pending, final false, failures 0 (a full task-retries
  // budget); attempts, checkpoints and attempt history stay. The workflow is no
  // longer finished and its counts and status are derived again, as after an
  // init commit. NotFound for an unknown workflow; InvalidArgument (nothing
  // written) for a listed task that did not fail for good, or, without
  // request.force, a workflow that has tasks pending or running
  // (RequeueRefusal, derived_state.h).
  virtual Result<RequeueResult> Requeue(const std::string& workflow_id,
                                        const RequeueRequest& request) = 0;

  // Deletes workflows that finished (succeeded/failed) before the cutoff, with
  // their tasks, checkpoints and fences. Returns their IDs.
  virtual Result<std::vector<std::string>> DeleteFinishedBefore(int64_t cutoff_unix_ms) = 0;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_STATE_STORE_H_
