// ApplyPlan: what one batch changes, decided the same way by every StateStore.
//
// A store reads the writer's fence row under its write lock, asks CheckFence
// whether the batch is refused and which seqs are replays, and writes what
// PlanBatch keeps: one row change per task and record kind, so each kind is one
// statement (PostgreSQL) or one loop (SQLite) and no statement sees two source
// rows for one target row.
#ifndef TASKMASTER_SIDECAR_STORE_APPLY_PLAN_H_
#define TASKMASTER_SIDECAR_STORE_APPLY_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/state_store.h"
#include "taskmaster/state.h"

namespace taskmaster::sidecar {

// How a batch meets the stored (fence, seq) pair of its writer (DESIGN.md §4):
// a record applies only if (batch fence, record seq) is greater than the pair.
struct FenceCheck {
  bool fenced = false;    // the batch's fence is below the stored one: refuse it all
  int64_t watermark = 0;  // records with seq <= watermark are replays
};
// `stored` is the writer's fence row, nullopt when it has none (read as (0, 0)).
FenceCheck CheckFence(int64_t batch_fence, const std::optional<FenceSeq>& stored);

// A task of a kTaskList record; the ID is a view into the record's own.
struct TaskListEntry {
  int64_t ordinal = 0;
  std::string_view task_id;
};

// The checkpoint a task ends the batch with, and the one before it in the same
// batch (a lower generation), which is what its backup must become.
struct CheckpointUpsert {
  const CheckpointWrite* current = nullptr;
  const CheckpointWrite* previous = nullptr;  // null when the batch has one generation
};

// The records of a batch that take effect. Pointers point into the batch, which
// must outlive the plan. Per task and kind the last record in journal order wins
// (they carry absolute values, so the last one is the state); vectors are sorted
// by ordinal (checkpoints by task ID).
struct ApplyPlan {
  const protocol::WorkflowInitRecord* init = nullptr;
  std::vector<TaskListEntry> task_list;
  std::vector<const protocol::TaskStartRecord*> starts;
  std::vector<CheckpointUpsert> checkpoints;
  std::vector<const protocol::ProgressRecord*> progress;
  std::vector<const protocol::NoteRecord*> notes;
  std::vector<const protocol::TaskEndRecord*> ends;
  const protocol::BudgetRecord* budget = nullptr;  // new, else null
  bool commit = false;                             // the commit record is new
  std::optional<WorkflowStatus> final_status;      // set only with a new finalize commit
  int64_t applied = 0;                             // records above the watermark
  int64_t skipped = 0;                             // replays
  int64_t max_seq = 0;                             // the writer's stored seq after the batch
  bool empty() const { return applied == 0; }
};
ApplyPlan PlanBatch(const Batch& batch, int64_t watermark);

// The ordinals whose rows a plan changes in what counts read (status, final,
// attempts): listed, started and ended tasks. Checkpoints, progress and notes
// change none of those.
std::vector<int64_t> CountedOrdinals(const ApplyPlan& plan);

// Consecutive shards [first, last] (shard = ordinal / shard_size).
struct ShardRun {
  int64_t first = 0;
  int64_t last = 0;
};
// The shards of `ordinals` as runs of consecutive shards, ascending; what a
// store recounts into shard_counts after a batch (shard_size >= 1).
std::vector<ShardRun> ShardRuns(const std::vector<int64_t>& ordinals, int64_t shard_size);

// Free text (errors, notes) as both stores keep it: PostgreSQL text holds
// neither NUL nor invalid UTF-8, and a record it refuses would wedge its
// sidecar, so both are replaced by U+FFFD, in both stores alike.
std::string StorableText(std::string_view text);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_APPLY_PLAN_H_
