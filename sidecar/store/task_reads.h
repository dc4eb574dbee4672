// What an operator reads of a workflow's tasks (DESIGN.md §4, `tm-sidecar
// tasks` and `history`, GET /api/workflows/<id>/tasks): pages of task rows in
// ordinal order, and one task with its recent attempts. Plain values, filled
// the same way by both stores; no store state is held.
//
// An attempt is one run of a task's command by one step: the row the store
// adds in `task_attempts` when a task_start record applies and completes when
// its task_end record applies, in the same transaction as the task's state.
// Its key is (workflow, ordinal, fence): a fence is taken once per step
// attempt of a shard (state_store.h), and a step runs each task at most once,
// so fences grow with the attempts of a task. The store keeps the last
// kAttemptsKeptPerTask attempts of each task and deletes older ones in the
// transaction that adds a new one.
#ifndef TASKMASTER_SIDECAR_STORE_TASK_READS_H_
#define TASKMASTER_SIDECAR_STORE_TASK_READS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/protocol.h"
#include "taskmaster/state.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// Attempts kept per task: enough to read a task's recent history and to see
// the same error repeat, small enough that a million tasks retried many times
// stay a bounded table (at most 10 rows a task). The attempt number keeps
// counting past it: `history` shows attempts 31..40 of a task that ran 40 times.
inline constexpr int64_t kAttemptsKeptPerTask = 10;

// How an attempt ended. kRunning until its task_end record applies; a step that
// vanished without one (a deleted pod) leaves it kRunning, and the task's next
// attempt is a new row.
enum class AttemptOutcome { kRunning, kSucceeded, kFailed, kTimedOut, kInterrupted, kCancelled };
const char* ToString(AttemptOutcome outcome);
Result<AttemptOutcome> ParseAttemptOutcome(std::string_view text);
// The outcome a task_end record gives its attempt: a failure whose error is
// the per-task timeout's is kTimedOut.
AttemptOutcome OutcomeOf(const protocol::TaskEndRecord& end);
// task_attempts.normalized_error of an ended attempt: NormalizeErrorLine
// (fingerprint.h) of its error for a failed one (timed out too), nullopt for
// any other outcome. With the exit code it is the attempt's fingerprint.
std::optional<std::string> NormalizedErrorOf(const protocol::TaskEndRecord& end);

// Page sizes a read accepts.
inline constexpr int64_t kMaxTaskPageSize = 10000;
inline constexpr int64_t kDefaultTaskPageSize = 100;

// A keyset page: the tasks with ordinal > after (all when nullopt), in ordinal
// order, of one stored status when given, at most `limit` (1..kMaxTaskPageSize).
struct TaskQuery {
  std::optional<TaskStatus> status;
  std::optional<int64_t> after;
  int64_t limit = kDefaultTaskPageSize;
};

// A task_states row.
struct TaskRow {
  int64_t ordinal = 0;
  std::string task_id;
  TaskStatus status = TaskStatus::kPending;
  bool final = false;
  int64_t attempts = 0;  // 1 + the highest TM_ATTEMPT a step ran it with
  int64_t failures = 0;  // failed attempts counted against its task-retries budget
  std::optional<int> exit_code;
  std::string error;
  std::optional<int64_t> started_at_ms;
  std::optional<int64_t> finished_at_ms;
  std::optional<int64_t> duration_ms;
  int64_t generation = 0;
};

struct TaskPage {
  std::vector<TaskRow> tasks;
  // The `after` of the next page; nullopt when this page is the last.
  std::optional<int64_t> next_after;
};

// A task_attempts row.
struct AttemptRow {
  int64_t attempt = 0;  // 1-based count of the task's attempts, kept across pruning
  int64_t fence = 0;    // the step's fence
  int64_t shard = 0;
  int64_t step_attempt = 0;  // the step's TM_ATTEMPT (Argo's {{retries}})
  std::string pod;           // the step's pod (its hostname); empty when unknown
  int64_t started_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
  std::optional<int64_t> duration_ms;
  AttemptOutcome outcome = AttemptOutcome::kRunning;
  bool final = false;  // the task_end said the failure was final
  std::optional<int> exit_code;
  std::string error;
  int64_t generation = 0;  // the task's checkpoint generation when the attempt ended
};

struct TaskHistory {
  TaskRow task;
  std::vector<AttemptRow> attempts;  // oldest first, the last kAttemptsKeptPerTask
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_TASK_READS_H_
