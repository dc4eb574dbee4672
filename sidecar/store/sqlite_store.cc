#include "store/sqlite_store.h"

#include <sqlite3.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/apply_plan.h"
#include "store/derived_state.h"
#include "store/schema_version.h"
#include "taskmaster/env.h"
#include "taskmaster/time.h"

// This store and postgres_store.cc are the two SQL dialects of one design, kept apart
// on purpose: the same schema versions, statements and StateStore methods,
// each written for its own engine and C API (SQLite here, PostgreSQL there), so a
// change to one is made to the other too. What the dialects share without
// differing (planning a batch, deriving the counts, the schema version check)
// lives in apply_plan.h, derived_state.h and schema_version.h.
namespace taskmaster::sidecar {
namespace {

// statfs(2) f_type values (linux/magic.h and the kernel's smb/cifs headers).
constexpr int64_t kNfsMagic = 0x6969;
constexpr int64_t kSmbMagic = 0x517B;
constexpr int64_t kSmb2Magic = 0xFE534D42;
constexpr int64_t kCifsMagic = 0xFF534D42;

struct Migration {
  int64_t version;
  const char* name;
  const char* sql;  // constant DDL, run as one script
};

// The schema, version by version. A released migration never changes; a new
// version appends one. Names and columns match the PostgreSQL store.
//
// The migrations and statements here are those of postgres_store.cc in
// SQLite's dialect, a deliberate pair: the two stores keep the same tables,
// columns and results (the conformance tests hold them to it), so a change to
// one is made to the other.
constexpr Migration kMigrations[] = {
    {1, "workflow, task, checkpoint and fence tables", R"sql(
CREATE TABLE workflow_states (
  workflow_id TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
  total INTEGER NOT NULL DEFAULT 0,
  succeeded INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  running INTEGER NOT NULL DEFAULT 0,
  pending INTEGER NOT NULL DEFAULT 0,
  cancelled INTEGER NOT NULL DEFAULT 0,
  task_count INTEGER NOT NULL,
  batch_size INTEGER NOT NULL,
  effective_batch_size INTEGER NOT NULL,
  list_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER,
  version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX workflow_states_updated_at ON workflow_states (updated_at);
CREATE INDEX workflow_states_finished_at ON workflow_states (finished_at)
  WHERE finished_at IS NOT NULL;
CREATE TABLE task_states (
  workflow_id TEXT NOT NULL REFERENCES workflow_states ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed',
                                         'interrupted', 'cancelled')),
  final INTEGER NOT NULL DEFAULT 0 CHECK (final IN (0, 1)),
  exit_code INTEGER,
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER,
  finished_at INTEGER,
  duration_ms INTEGER,
  generation INTEGER NOT NULL DEFAULT 0,
  progress_done INTEGER,
  progress_total INTEGER,
  note TEXT,
  PRIMARY KEY (workflow_id, ordinal),
  UNIQUE (workflow_id, task_id)
);
CREATE INDEX task_states_final_failures ON task_states (workflow_id, ordinal)
  WHERE status = 'failed' AND final = 1;
CREATE TABLE checkpoints (
  workflow_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  document TEXT NOT NULL,
  backup_generation INTEGER NOT NULL DEFAULT 0,
  backup_document TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workflow_id, task_id),
  FOREIGN KEY (workflow_id, task_id) REFERENCES task_states (workflow_id, task_id)
    ON DELETE CASCADE
);
CREATE TABLE fences (
  workflow_id TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('init', 'shard', 'finalize')),
  shard INTEGER NOT NULL,
  fence INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (workflow_id, role, shard)
);
)sql"},
    // Per-shard task counts, so a batch recounts its own shard rather than the
    // whole workflow. Filled from the task rows (Migrate holds the write lock).
    {2, "per-shard task counts", R"sql(
CREATE TABLE shard_counts (
  workflow_id TEXT NOT NULL REFERENCES workflow_states ON DELETE CASCADE,
  shard INTEGER NOT NULL,
  status TEXT NOT NULL,
  final INTEGER NOT NULL,
  tasks INTEGER NOT NULL,
  started INTEGER NOT NULL,
  PRIMARY KEY (workflow_id, shard, status, final)
);
INSERT INTO shard_counts (workflow_id, shard, status, final, tasks, started)
SELECT t.workflow_id, t.ordinal / max(w.effective_batch_size, 1), t.status, t.final,
       count(*), max(t.attempts > 0)
FROM task_states t JOIN workflow_states w ON w.workflow_id = t.workflow_id
GROUP BY 1, 2, 3, 4;
)sql"},
    // Per-task counts of failed and interrupted attempts: a failure is final
    // once the failures exceed the task's retry budget (--task-retries), and
    // interruptions (SIGTERM from outside) never spend it. A row's last attempt
    // is what the counts start from.
    {3, "per-task failure and interruption counts", R"sql(
ALTER TABLE task_states ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_states ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
UPDATE task_states SET failures = 1 WHERE status = 'failed';
UPDATE task_states SET interruptions = 1 WHERE status = 'interrupted';
)sql"},
    // Task attempts (task_reads.h), tasks by status for paging, and times as
    // ISO 8601 text in UTC with milliseconds ("2026-11-29T00:28:02.123Z", as
    // `sqlite3` shows them and as they sort), converted from the Unix
    // milliseconds of versions 1 to 3. SQLite cannot change a column's type:
    // each table with times is made again and its rows copied (Migrate turns
    // foreign keys off meanwhile, so dropping a parent deletes no child rows).
    // A value that is text already (written by this version) stays.
    {4, "task attempts, tasks by status, times as ISO 8601 text", R"sql(
CREATE TABLE workflow_states_v3 (
  workflow_id TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
  total INTEGER NOT NULL DEFAULT 0,
  succeeded INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  running INTEGER NOT NULL DEFAULT 0,
  pending INTEGER NOT NULL DEFAULT 0,
  cancelled INTEGER NOT NULL DEFAULT 0,
  task_count INTEGER NOT NULL,
  batch_size INTEGER NOT NULL,
  effective_batch_size INTEGER NOT NULL,
  list_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT,
  version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO workflow_states_v3
SELECT workflow_id, status, total, succeeded, failed, running, pending, cancelled, task_count,
       batch_size, effective_batch_size, list_hash,
       CASE typeof(created_at) WHEN 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S', created_at / 1000,
         'unixepoch') || printf('.%03dZ', created_at % 1000) ELSE created_at END,
       CASE typeof(updated_at) WHEN 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S', updated_at / 1000,
         'unixepoch') || printf('.%03dZ', updated_at % 1000) ELSE updated_at END,
       CASE typeof(finished_at) WHEN 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S',
         finished_at / 1000, 'unixepoch') || printf('.%03dZ', finished_at % 1000)
         ELSE finished_at END,
       version
FROM workflow_states;
DROP TABLE workflow_states;
ALTER TABLE workflow_states_v3 RENAME TO workflow_states;
CREATE INDEX workflow_states_updated_at ON workflow_states (updated_at);
CREATE INDEX workflow_states_finished_at ON workflow_states (finished_at)
  WHERE finished_at IS NOT NULL;
CREATE TABLE task_states_v3 (
  workflow_id TEXT NOT NULL REFERENCES workflow_states ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed',
                                         'interrupted', 'cancelled')),
  final INTEGER NOT NULL DEFAULT 0 CHECK (final IN (0, 1)),
  exit_code INTEGER,
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  started_at TEXT,
  finished_at TEXT,
  duration_ms INTEGER,
  generation INTEGER NOT NULL DEFAULT 0,
  progress_done INTEGER,
  progress_total INTEGER,
  note TEXT,
  failures INTEGER NOT NULL DEFAULT 0,
  interruptions INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workflow_id, ordinal),
  UNIQUE (workflow_id, task_id)
);
INSERT INTO task_states_v3
SELECT workflow_id, ordinal, task_id, status, final, exit_code, error, attempts,
       CASE typeof(started_at) WHEN 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S', started_at / 1000,
         'unixepoch') || printf('.%03dZ', started_at % 1000) ELSE started_at END,
       CASE typeof(finished_at) WHEN 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S',
         finished_at / 1000, 'unixepoch') || printf('.%03dZ', finished_at % 1000)
         ELSE finished_at END,
       duration_ms, generation, progress_done, progress_total, note, failures, interruptions
FROM task_states;
DROP TABLE task_states;
ALTER TABLE task_states_v3 RENAME TO task_states;
CREATE INDEX task_states_final_failures ON task_states (workflow_id, ordinal)
  WHERE status = 'failed' AND final = 1;
CREATE INDEX task_states_status ON task_states (workflow_id, status, ordinal);
CREATE TABLE checkpoints_v3 (
  workflow_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  document TEXT NOT NULL,
  backup_generation INTEGER NOT NULL DEFAULT 0,
  backup_document TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (workflow_id, task_id),
  FOREIGN KEY (workflow_id, task_id) REFERENCES task_states (workflow_id, task_id)
    ON DELETE CASCADE
);
INSERT INTO checkpoints_v3
SELECT workflow_id, task_id, generation, document, backup_generation, backup_document,
       CASE typeof(updated_at) WHEN 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S', updated_at / 1000,
         'unixepoch') || printf('.%03dZ', updated_at % 1000) ELSE updated_at END
FROM checkpoints;
DROP TABLE checkpoints;
ALTER TABLE checkpoints_v3 RENAME TO checkpoints;
CREATE TABLE schema_migrations_v3 (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations_v3
SELECT version, name,
       CASE typeof(applied_at) WHEN 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S', applied_at / 1000,
         'unixepoch') || printf('.%03dZ', applied_at % 1000) ELSE applied_at END
FROM schema_migrations;
DROP TABLE schema_migrations;
ALTER TABLE schema_migrations_v3 RENAME TO schema_migrations;
CREATE TABLE task_attempts (
  workflow_id TEXT NOT NULL,
  ordinal INTEGER NOT NULL,
  fence INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  shard INTEGER NOT NULL,
  step_attempt INTEGER NOT NULL,
  pod TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  duration_ms INTEGER,
  outcome TEXT NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'timed_out',
                                           'interrupted', 'cancelled')),
  final INTEGER NOT NULL DEFAULT 0 CHECK (final IN (0, 1)),
  exit_code INTEGER,
  error TEXT NOT NULL DEFAULT '',
  normalized_error TEXT,
  generation INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workflow_id, ordinal, fence),
  FOREIGN KEY (workflow_id, ordinal) REFERENCES task_states ON DELETE CASCADE
);
)sql"},
    // The failure budget the workflow's steps were given (FailureBudget,
    // state.h): NULL until a step of this version records it.
    {5, "the workflow's failure budget", R"sql(
ALTER TABLE workflow_states ADD COLUMN max_failures INTEGER;
ALTER TABLE workflow_states ADD COLUMN max_failure_percent REAL;
ALTER TABLE workflow_states ADD COLUMN task_retries INTEGER;
ALTER TABLE workflow_states ADD COLUMN quarantine_after INTEGER;
)sql"},
    // Quarantine (docs/protocol.md): the status 'quarantined' and each task's
    // failure streak (the fingerprint of its last failure and how many failures
    // in a row had it). SQLite cannot change a CHECK: task_states is made again
    // and its rows copied, as in version 4 (foreign keys off meanwhile). Its
    // final failures index now holds quarantined tasks too (final = 1).
    {6, "quarantine", R"sql(
CREATE TABLE task_states_v6 (
  workflow_id TEXT NOT NULL REFERENCES workflow_states ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed',
                                         'interrupted', 'cancelled', 'quarantined')),
  final INTEGER NOT NULL DEFAULT 0 CHECK (final IN (0, 1)),
  exit_code INTEGER,
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  started_at TEXT,
  finished_at TEXT,
  duration_ms INTEGER,
  generation INTEGER NOT NULL DEFAULT 0,
  progress_done INTEGER,
  progress_total INTEGER,
  note TEXT,
  failures INTEGER NOT NULL DEFAULT 0,
  interruptions INTEGER NOT NULL DEFAULT 0,
  fingerprint TEXT,
  fingerprint_streak INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workflow_id, ordinal),
  UNIQUE (workflow_id, task_id)
);
INSERT INTO task_states_v6
SELECT workflow_id, ordinal, task_id, status, final, exit_code, error, attempts, started_at,
       finished_at, duration_ms, generation, progress_done, progress_total, note, failures,
       interruptions, NULL, 0
FROM task_states;
DROP TABLE task_states;
ALTER TABLE task_states_v6 RENAME TO task_states;
CREATE INDEX task_states_final_failures ON task_states (workflow_id, ordinal) WHERE final = 1;
CREATE INDEX task_states_status ON task_states (workflow_id, status, ordinal);
)sql"},
};
constexpr int64_t kSchemaVersion = static_cast<int64_t>(std::size(kMigrations));

// ---- Statements ---------------------------------------------------------------
// Every value is a bound parameter; nothing is spliced into SQL text.

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)";
constexpr const char* kHasMigrationsTable =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
constexpr const char* kSchemaVersionQuery =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";
constexpr const char* kRecordMigration =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)";

constexpr const char* kUseWal = "PRAGMA journal_mode = WAL";
constexpr const char* kForeignKeyCheck = "PRAGMA foreign_key_check";

constexpr const char* kBumpFence =
    "INSERT INTO fences (workflow_id, role, shard, fence, seq) VALUES (?, ?, ?, 1, 0) "
    "ON CONFLICT (workflow_id, role, shard) DO UPDATE SET fence = fence + 1, seq = 0 "
    "RETURNING fence";
constexpr const char* kReadFence =
    "SELECT fence, seq FROM fences WHERE workflow_id = ? AND role = ? AND shard = ?";
constexpr const char* kStoreFence =
    "INSERT INTO fences (workflow_id, role, shard, fence, seq) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (workflow_id, role, shard) DO UPDATE SET fence = excluded.fence, "
    "seq = excluded.seq";

// A re-init (a resubmitted workflow resuming under its state key) reopens a
// finished workflow; what the list was recorded with stays.
constexpr const char* kInsertWorkflow =
    "INSERT INTO workflow_states (workflow_id, status, task_count, batch_size, "
    "effective_batch_size, list_hash, created_at, updated_at) VALUES (?, 'pending', ?, ?, ?, ?, "
    "?, ?) ON CONFLICT (workflow_id) DO UPDATE SET finished_at = NULL";
constexpr const char* kInsertTask =
    "INSERT INTO task_states (workflow_id, ordinal, task_id, status) VALUES (?, ?, ?, 'pending') "
    "ON CONFLICT DO NOTHING";
// A start begins a new attempt: what the previous attempt left (its end,
// progress) no longer describes the task.
constexpr const char* kStartTask =
    "UPDATE task_states SET status = 'running', final = 0, exit_code = NULL, error = '', "
    "finished_at = NULL, duration_ms = NULL, progress_done = NULL, progress_total = NULL, "
    "attempts = max(attempts, ? + 1), started_at = ? "
    "WHERE workflow_id = ? AND ordinal = ? AND task_id = ?";
constexpr const char* kTaskGeneration =
    "UPDATE task_states SET generation = max(generation, ?) "
    "WHERE workflow_id = ? AND ordinal = ? AND task_id = ?";
// The backup rotates only when the generation grows; it becomes the batch's
// previous generation of the task when there is one, else the stored current.
// A lower generation than the stored one changes nothing.
constexpr const char* kUpsertCheckpoint =
    "INSERT INTO checkpoints (workflow_id, task_id, generation, document, backup_generation, "
    "backup_document, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (workflow_id, task_id) DO UPDATE SET "
    "backup_generation = CASE WHEN excluded.generation = generation THEN backup_generation "
    "WHEN excluded.backup_generation > generation THEN excluded.backup_generation "
    "ELSE generation END, "
    "backup_document = CASE WHEN excluded.generation = generation THEN backup_document "
    "WHEN excluded.backup_generation > generation THEN excluded.backup_document "
    "ELSE document END, "
    "generation = excluded.generation, document = excluded.document, "
    "updated_at = excluded.updated_at "
    "WHERE excluded.generation >= generation "
    "RETURNING document";
constexpr const char* kTaskProgress =
    "UPDATE task_states SET progress_done = ?, progress_total = ? "
    "WHERE workflow_id = ? AND ordinal = ?";
constexpr const char* kTaskNote =
    "UPDATE task_states SET note = ? WHERE workflow_id = ? AND ordinal = ?";
// The fence check applies each end once, so the counts grow once per attempt.
// A quarantined end is a failure too; the failure streak is the step's.
constexpr const char* kEndTask =
    "UPDATE task_states SET status = ?1, final = ?2, exit_code = ?3, error = ?4, "
    "finished_at = ?5, duration_ms = ?6, failures = failures + (?1 IN ('failed', 'quarantined')), "
    "interruptions = interruptions + (?1 = 'interrupted'), fingerprint = ?10, "
    "fingerprint_streak = ?11 "
    "WHERE workflow_id = ?7 AND ordinal = ?8 AND task_id = ?9";
// An init commit starts a run of the workflow (see postgres_store.cc): the
// workflow is no longer finished and what did not succeed is pending again.
constexpr const char* kReopenWorkflow =
    "UPDATE workflow_states SET finished_at = NULL WHERE workflow_id = ?";
constexpr const char* kReopenTasks =
    "UPDATE task_states SET status = 'pending', final = 0, "
    "failures = CASE WHEN status = 'failed' AND final = 1 THEN 0 ELSE failures END "
    "WHERE workflow_id = ? "
    "AND status IN ('failed', 'cancelled', 'interrupted', 'running') RETURNING ordinal";
// Requeue (state_store.h): one task by ID, or every task, that failed for good
// (?3 'failed') or was quarantined (?3 'quarantined', final too); ?3 '' takes
// either.
constexpr const char* kRequeueTask =
    "UPDATE task_states SET status = 'pending', final = 0, failures = 0, fingerprint = NULL, "
    "fingerprint_streak = 0 "
    "WHERE workflow_id = ?1 AND task_id = ?2 AND (?3 = '' OR status = ?3) AND final = 1 "
    "RETURNING ordinal";
constexpr const char* kRequeueStatus =
    "UPDATE task_states SET status = 'pending', final = 0, failures = 0, fingerprint = NULL, "
    "fingerprint_streak = 0 "
    "WHERE workflow_id = ?1 AND status = ?2 AND final = 1 RETURNING ordinal";
constexpr const char* kFinishWorkflow =
    "UPDATE workflow_states SET status = ?, finished_at = ? WHERE workflow_id = ?";
// A budget record without task_retries or quarantine_after (finalize's) keeps
// the stored ones.
constexpr const char* kRecordBudget =
    "UPDATE workflow_states SET max_failures = ?2, max_failure_percent = ?3, "
    "task_retries = coalesce(?4, task_retries), "
    "quarantine_after = coalesce(?5, quarantine_after) WHERE workflow_id = ?1";
constexpr const char* kWorkflowFinish =
    "SELECT status, finished_at IS NOT NULL, effective_batch_size FROM workflow_states "
    "WHERE workflow_id = ?";
constexpr const char* kTaskGroups =
    "SELECT status, final, count(*), max(attempts > 0) FROM task_states WHERE workflow_id = ? "
    "GROUP BY status, final";
// A batch recounts the shards [first, last] whose task rows it changed: a range
// scan of the primary key over their ordinals, never incremented. The
// workflow's counts are then the sum over its shard rows.
constexpr const char* kDeleteShardCounts =
    "DELETE FROM shard_counts WHERE workflow_id = ?1 AND shard >= ?2 AND shard <= ?3";
constexpr const char* kRecountShards =
    "INSERT INTO shard_counts (workflow_id, shard, status, final, tasks, started) "
    "SELECT workflow_id, ordinal / ?4, status, final, count(*), max(attempts > 0) "
    "FROM task_states WHERE workflow_id = ?1 AND ordinal >= ?2 * ?4 AND ordinal < (?3 + 1) * ?4 "
    "GROUP BY 1, 2, 3, 4";
constexpr const char* kShardGroups =
    "SELECT status, final, sum(tasks), max(started) FROM shard_counts WHERE workflow_id = ? "
    "GROUP BY status, final";
constexpr const char* kStoreCounts =
    "UPDATE workflow_states SET status = ?, total = ?, succeeded = ?, failed = ?, running = ?, "
    "pending = ?, cancelled = ?, updated_at = ?, version = version + 1 WHERE workflow_id = ?";

constexpr const char* kReadWorkflowState =
    "SELECT workflow_id, status, total, succeeded, failed, running, pending, cancelled, "
    "created_at, updated_at, version, max_failures, max_failure_percent, task_retries, "
    "quarantine_after FROM workflow_states WHERE workflow_id = ?";
constexpr const char* kReadWorkflowInit =
    "SELECT list_hash, task_count, batch_size, effective_batch_size FROM workflow_states "
    "WHERE workflow_id = ?";
constexpr const char* kReadStatuses =
    "SELECT status FROM task_states WHERE workflow_id = ? ORDER BY ordinal";
// The shards' early stop counts the tasks that failed for good, not the
// quarantined ones: a resubmission reopens the former but leaves the latter,
// which would otherwise spend every later run's budget before it starts
// (finalize's verdict still counts both).
constexpr const char* kCountFinalFailures =
    "SELECT count(*) FROM task_states WHERE workflow_id = ? AND final = 1 AND status = 'failed'";
constexpr const char* kReadShardTasks =
    "SELECT t.ordinal, t.task_id, t.status, t.final, t.attempts, t.exit_code, t.error, "
    "c.generation, c.document, c.backup_generation, c.backup_document, t.failures, "
    "t.interruptions, t.fingerprint, t.fingerprint_streak FROM task_states t "
    "LEFT JOIN checkpoints c "
    "ON c.workflow_id = t.workflow_id AND c.task_id = t.task_id "
    "WHERE t.workflow_id = ? AND t.ordinal >= ? AND t.ordinal < ? ORDER BY t.ordinal";
constexpr const char* kReadFailedTasks =
    "SELECT task_id, exit_code, error FROM task_states "
    "WHERE workflow_id = ? AND final = 1 ORDER BY ordinal LIMIT ?";
constexpr const char* kReadCheckpoints =
    "SELECT task_id, document FROM checkpoints WHERE workflow_id = ?";
constexpr const char* kReadShardFences =
    "SELECT shard, fence FROM fences WHERE workflow_id = ? AND role = 'shard'";
constexpr const char* kDeleteFinished =
    "DELETE FROM workflow_states WHERE finished_at < ? RETURNING workflow_id";
constexpr const char* kDeleteFences = "DELETE FROM fences WHERE workflow_id = ?";

// A task start adds the task's next attempt (numbered after the highest kept
// one); a start already recorded for this fence adds nothing.
constexpr const char* kStartAttempt =
    "INSERT INTO task_attempts (workflow_id, ordinal, fence, attempt, shard, step_attempt, pod, "
    "started_at, outcome) "
    "SELECT ?1, ?2, ?3, coalesce(max(attempt), 0) + 1, ?4, ?5, ?6, ?7, 'running' "
    "FROM task_attempts WHERE workflow_id = ?1 AND ordinal = ?2 "
    "ON CONFLICT DO NOTHING RETURNING attempt";
// Keeps the last kAttemptsKeptPerTask: ?3 is the new attempt's number minus it.
constexpr const char* kPruneAttempts =
    "DELETE FROM task_attempts WHERE workflow_id = ?1 AND ordinal = ?2 AND attempt <= ?3";
// After the batch's checkpoints: the generation is the one the attempt left.
constexpr const char* kEndAttempt =
    "UPDATE task_attempts SET finished_at = ?4, duration_ms = ?5, outcome = ?6, final = ?7, "
    "exit_code = ?8, error = ?9, normalized_error = ?10, generation = (SELECT generation FROM "
    "task_states "
    "WHERE workflow_id = ?1 AND ordinal = ?2) "
    "WHERE workflow_id = ?1 AND ordinal = ?2 AND fence = ?3";
// Keyset pages: the primary key, or (workflow_id, status, ordinal) for one status.
constexpr const char* kListTasks =
    "SELECT ordinal, task_id, status, final, attempts, exit_code, error, started_at, "
    "finished_at, duration_ms, generation, failures FROM task_states "
    "WHERE workflow_id = ?1 AND ordinal > ?2 ORDER BY ordinal LIMIT ?3";
constexpr const char* kListTasksByStatus =
    "SELECT ordinal, task_id, status, final, attempts, exit_code, error, started_at, "
    "finished_at, duration_ms, generation, failures FROM task_states "
    "WHERE workflow_id = ?1 AND status = ?4 AND ordinal > ?2 ORDER BY ordinal LIMIT ?3";
constexpr const char* kReadTask =
    "SELECT ordinal, task_id, status, final, attempts, exit_code, error, started_at, "
    "finished_at, duration_ms, generation, failures FROM task_states "
    "WHERE workflow_id = ? AND task_id = ?";
// Fences grow with a task's attempts (task_reads.h): the key's order is theirs.
constexpr const char* kReadAttempts =
    "SELECT attempt, fence, shard, step_attempt, pod, started_at, finished_at, duration_ms, "
    "outcome, final, exit_code, error, generation FROM task_attempts "
    "WHERE workflow_id = ? AND ordinal = ? ORDER BY fence";

// The name of a network filesystem by statfs(2) f_type, or nullptr.
const char* NetworkFilesystemName(int64_t statfs_type) {
  switch (statfs_type) {
    case kNfsMagic:
      return "NFS";
    case kSmbMagic:
      return "SMB";
    case kSmb2Magic:
      return "SMB2";
    case kCifsMagic:
      return "CIFS";
    default:
      return nullptr;
  }
}

// ---- The sqlite3 C API, behind RAII ---------------------------------------------

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// The Status for a failed call: a lock that stayed busy past the timeout is
// Busy (retry), a violated constraint is a write the schema refuses, a damaged
// file is Corruption; the rest is the filesystem's.
Status SqliteError(sqlite3* db, int rc, const std::string& what) {
  const std::string message =
      what + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(message);
    case SQLITE_CONSTRAINT:
      return Status::InvalidArgument(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(message);
    default:
      return Status::IOError(message);
  }
}

// The start of a statement, to say which one failed without quoting all of it.
std::string SqlHead(const char* sql) {
  constexpr size_t kMax = 48;
  const std::string_view text(sql);
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

// Prepared statements, kept for the connection's life. The key is the address
// of the SQL text, always one of the constants above.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}

  Result<sqlite3_stmt*> Get(const char* sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StatementHandle stmt(raw);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare " + SqlHead(sql));
    return statements_.emplace(sql, std::move(stmt)).first->second.get();
  }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, StatementHandle> statements_;
};

// One use of a cached statement: parameters are bound in order, and the
// statement is reset when the query goes out of scope. A failure to prepare or
// bind surfaces at the first Step().
class Query {
 public:
  Query(sqlite3* db, StatementCache* cache, const char* sql) : db_(db), sql_(sql) {
    Result<sqlite3_stmt*> stmt = cache->Get(sql);
    if (stmt.ok()) {
      stmt_ = *stmt;
    } else {
      status_ = stmt.status();
    }
  }
  ~Query() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Int(int64_t value) {
    return Bound(stmt_ ? sqlite3_bind_int64(stmt_, ++index_, value) : 0);
  }
  Query& Text(std::string_view value) {
    return Bound(stmt_ ? sqlite3_bind_text64(stmt_, ++index_, value.data(), value.size(),
                                             SQLITE_TRANSIENT, SQLITE_UTF8)
                       : 0);
  }
  Query& Null() { return Bound(stmt_ ? sqlite3_bind_null(stmt_, ++index_) : 0); }
  Query& Double(double value) {
    return Bound(stmt_ ? sqlite3_bind_double(stmt_, ++index_, value) : 0);
  }
  Query& OptionalInt(const std::optional<int64_t>& value) { return value ? Int(*value) : Null(); }
  // Times are stored as ISO 8601 text in UTC with milliseconds (migration 3).
  Query& Time(int64_t unix_ms) { return Text(FormatRfc3339Millis(unix_ms)); }

  // True when a row is ready, false when the statement is done.
  Result<bool> Step() {
    if (!status_.ok()) return status_;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    status_ = SqliteError(db_, rc, SqlHead(sql_));
    return status_;
  }
  // Steps to the end; rows, if any, are ignored.
  Status Run() {
    for (;;) {
      Result<bool> row = Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::OK();
    }
  }
  // Rows changed by the last write of the connection.
  int64_t Changes() const { return sqlite3_changes64(db_); }

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }
  double ColumnDouble(int col) const { return sqlite3_column_double(stmt_, col); }
  std::optional<int64_t> ColumnOptionalInt(int col) const {
    if (IsNull(col)) return std::nullopt;
    return ColumnInt(col);
  }
  std::string ColumnText(int col) const {
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    if (text == nullptr) return std::string();
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  // A time column (nullopt for NULL); a value no store writes is Corruption.
  Result<std::optional<int64_t>> ColumnOptionalTime(int col, const char* column) const {
    if (IsNull(col)) return std::optional<int64_t>();
    Result<int64_t> ms = ParseStored(ParseRfc3339Millis(ColumnText(col)), column);
    if (!ms.ok()) return ms.status();
    return std::optional<int64_t>(*ms);
  }
  Result<int64_t> ColumnTime(int col, const char* column) const {
    return ParseStored(ParseRfc3339Millis(ColumnText(col)), column);
  }

 private:
  Query& Bound(int rc) {
    if (rc != SQLITE_OK && status_.ok()) status_ = SqliteError(db_, rc, "bind " + SqlHead(sql_));
    return *this;
  }

  sqlite3* db_;
  const char* sql_;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
  int index_ = 0;
};

std::optional<int64_t> FromExitCode(const std::optional<int>& value) {
  if (!value) return std::nullopt;
  return *value;
}

class SqliteStore final : public StateStore {
 public:
  SqliteStore(std::string path, Env* env, DbHandle db)
      : path_(std::move(path)), env_(env), db_(std::move(db)), statements_(db_.get()) {}

  // Connection settings that live with the connection, not the file (except
  // the journal mode, which WAL makes persistent).
  Status Configure() {
    sqlite3_busy_timeout(db_.get(), kSqliteBusyTimeoutMillis);
    TM_RETURN_IF_ERROR(UseWal());
    // FULL: a local run's acknowledged batch must survive a power loss too.
    TM_RETURN_IF_ERROR(Exec("PRAGMA synchronous = FULL"));
    return Exec("PRAGMA foreign_keys = ON");
  }

  Status Migrate() override {
    // Off for the migrations, which make tables again (migration 3): dropping
    // a parent table with them on would delete its children's rows. The
    // pragma is a no-op inside a transaction, so it is set around it, and the
    // keys are checked before the transaction commits.
    TM_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys = OFF"));
    Status migrated = InTransaction(kWrite, [&]() -> Status {
      TM_RETURN_IF_ERROR(Exec(kCreateMigrationsTable));
      Result<int64_t> found = StoredSchemaVersion();
      if (!found.ok()) return found.status();
      TM_RETURN_IF_ERROR(CheckNotNewer(*found, kSchemaVersion));
      if (*found == kSchemaVersion) return Status::OK();  // no check of every row then
      for (const Migration& m : kMigrations) {
        if (m.version <= *found) continue;
        TM_RETURN_IF_ERROR(Exec(m.sql));
        Query record(db_.get(), &statements_, kRecordMigration);
        record.Int(m.version).Text(m.name).Time(env_->NowUnixMillis());
        TM_RETURN_IF_ERROR(record.Run());
      }
      Query check(db_.get(), &statements_, kForeignKeyCheck);
      Result<bool> violation = check.Step();
      if (!violation.ok()) return violation.status();
      if (*violation) {
        return Status::Corruption("a row of table " + check.ColumnText(0) +
                                  " refers to a missing row of " + check.ColumnText(2));
      }
      return Status::OK();
    });
    Status on = Exec("PRAGMA foreign_keys = ON");
    TM_RETURN_IF_ERROR(migrated);
    return on;
  }

  Status CheckSchema() override {
    int64_t found = 0;
    TM_RETURN_IF_ERROR(InTransaction(kRead, [&]() -> Status {
      Query has(db_.get(), &statements_, kHasMigrationsTable);
      Result<bool> row = has.Step();
      if (!row.ok()) return row.status();
      if (has.ColumnInt(0) == 0) return Status::OK();
      Result<int64_t> version = StoredSchemaVersion();
      if (!version.ok()) return version.status();
      found = *version;
      return Status::OK();
    }));
    return CompareSchemaVersion(found, kSchemaVersion).WithContext(path_);
  }

  Result<int64_t> AcquireFence(const Writer& writer) override {
    // The bump commits without an fsync of its own (WAL mode, synchronous =
    // NORMAL for this transaction only): the writer's first batch commits
    // with FULL, which syncs the WAL up to and including the bump, before any
    // record under the new fence is acknowledged. A power loss before that
    // takes back only a fence no acknowledged record carries; and after a
    // power loss no writer that holds the older fence is left to run.
    TM_RETURN_IF_ERROR(Exec("PRAGMA synchronous = NORMAL"));
    int64_t fence = 0;
    Status bumped = InTransaction(kWrite, [&]() -> Status {
      Query bump(db_.get(), &statements_, kBumpFence);
      bump.Text(writer.workflow_id).Text(protocol::ToString(writer.role)).Int(writer.shard);
      Result<bool> row = bump.Step();
      if (!row.ok()) return row.status();
      fence = bump.ColumnInt(0);
      return bump.Run();
    });
    Status full = Exec("PRAGMA synchronous = FULL");
    TM_RETURN_IF_ERROR(bumped);
    TM_RETURN_IF_ERROR(full);
    return fence;
  }

  Result<protocol::InitRestore> LoadInit(const std::string& workflow_id) override {
    protocol::InitRestore init;
    init.workflow_id = workflow_id;
    TM_RETURN_IF_ERROR(InTransaction(kRead, [&]() -> Status {
      Query wf(db_.get(), &statements_, kReadWorkflowInit);
      wf.Text(workflow_id);
      Result<bool> row = wf.Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::OK();
      init.exists = true;
      init.list_hash = wf.ColumnText(0);
      init.task_count = wf.ColumnInt(1);
      init.batch_size = wf.ColumnInt(2);
      init.effective_batch_size = wf.ColumnInt(3);
      Query tasks(db_.get(), &statements_, kReadStatuses);
      tasks.Text(workflow_id);
      for (;;) {
        Result<bool> task = tasks.Step();
        if (!task.ok()) return task.status();
        if (!*task) return Status::OK();
        Result<TaskStatus> status =
            ParseStored(ParseTaskStatus(tasks.ColumnText(0)), "task status");
        if (!status.ok()) return status.status();
        init.statuses.push_back(*status);
      }
    }));
    return init;
  }

  Result<ShardData> LoadShard(const std::string& workflow_id, int64_t shard) override {
    ShardData data;
    protocol::ShardRestore& restore = data.restore;
    restore.workflow_id = workflow_id;
    restore.shard = shard;
    TM_RETURN_IF_ERROR(InTransaction(kRead, [&]() -> Status {
      Query wf(db_.get(), &statements_, kReadWorkflowInit);
      wf.Text(workflow_id);
      Result<bool> row = wf.Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
      restore.task_count = wf.ColumnInt(1);
      restore.batch_size = wf.ColumnInt(3);
      const int64_t shards = protocol::ShardCount(restore.task_count, restore.batch_size);
      if (shard < 0 || shard >= shards) {
        return Status::InvalidArgument("shard " + std::to_string(shard) + " of workflow '" +
                                       workflow_id + "' does not exist (it has " +
                                       std::to_string(shards) + " shards)");
      }
      Query failures(db_.get(), &statements_, kCountFinalFailures);
      failures.Text(workflow_id);
      row = failures.Step();
      if (!row.ok()) return row.status();
      restore.final_failures = failures.ColumnInt(0);

      const protocol::OrdinalRange range =
          protocol::ShardRange(shard, restore.task_count, restore.batch_size);
      Query tasks(db_.get(), &statements_, kReadShardTasks);
      tasks.Text(workflow_id).Int(range.begin).Int(range.end);
      for (;;) {
        Result<bool> task = tasks.Step();
        if (!task.ok()) return task.status();
        if (!*task) return Status::OK();
        protocol::RestoredTask t;
        t.ordinal = tasks.ColumnInt(0);
        t.task_id = tasks.ColumnText(1);
        Result<TaskStatus> status =
            ParseStored(ParseTaskStatus(tasks.ColumnText(2)), "task status");
        if (!status.ok()) return status.status();
        t.status = *status;
        t.final = tasks.ColumnInt(3) != 0;
        t.attempts = tasks.ColumnInt(4);
        t.exit_code = ExitCodeFromColumn(tasks.ColumnOptionalInt(5));
        t.error = tasks.ColumnText(6);
        t.failures = tasks.ColumnInt(11);
        t.interruptions = tasks.ColumnInt(12);
        t.fingerprint = tasks.ColumnText(13);
        t.fingerprint_streak = tasks.ColumnInt(14);
        if (!tasks.IsNull(7)) {
          StoredCheckpoint stored;
          stored.generation = tasks.ColumnInt(7);
          stored.document = tasks.ColumnText(8);
          stored.backup_generation = tasks.ColumnInt(9);
          if (!tasks.IsNull(10)) stored.backup_document = tasks.ColumnText(10);
          RestoreDocument chosen = ChooseRestoreDocument(workflow_id, t.task_id, stored);
          t.generation = chosen.generation;
          data.documents[t.ordinal] = std::move(chosen.document);
        }
        restore.tasks.push_back(std::move(t));
      }
    }));
    return data;
  }

  Result<protocol::WorkflowSummary> LoadSummary(const std::string& workflow_id) override {
    protocol::WorkflowSummary summary;
    summary.workflow_id = workflow_id;
    TM_RETURN_IF_ERROR(InTransaction(kRead, [&]() -> Status {
      Result<std::optional<WorkflowState>> state = ReadWorkflowState(workflow_id);
      if (!state.ok()) return state.status();
      if (!*state) return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
      // Derived again rather than read from the row: the same rows, one truth.
      bool any_started = false;
      TM_RETURN_IF_ERROR(CountTasks(workflow_id, &summary.counts, &any_started));
      summary.failed_total = summary.counts.failed;
      Query failed(db_.get(), &statements_, kReadFailedTasks);
      failed.Text(workflow_id).Int(static_cast<int64_t>(protocol::kFailedTasksInSummary));
      for (;;) {
        Result<bool> row = failed.Step();
        if (!row.ok()) return row.status();
        if (!*row) return Status::OK();
        summary.failed.push_back(protocol::FailedTask{
            failed.ColumnText(0), ExitCodeFromColumn(failed.ColumnOptionalInt(1)),
            failed.ColumnText(2)});
      }
    }));
    return summary;
  }

  Result<WorkflowState> LoadWorkflowState(const std::string& workflow_id) override {
    std::optional<WorkflowState> state;
    TM_RETURN_IF_ERROR(InTransaction(kRead, [&]() -> Status {
      Result<std::optional<WorkflowState>> read = ReadWorkflowState(workflow_id);
      if (!read.ok()) return read.status();
      state = std::move(*read);
      return Status::OK();
    }));
    if (!state) return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
    return std::move(*state);
  }

  Result<std::map<std::string, std::string>> LoadCheckpoints(
      const std::string& workflow_id) override {
    std::map<std::string, std::string> documents;
    TM_RETURN_IF_ERROR(InTransaction(kRead, [&]() -> Status {
      Result<std::optional<WorkflowState>> state = ReadWorkflowState(workflow_id);
      if (!state.ok()) return state.status();
      if (!*state) return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
      Query read(db_.get(), &statements_, kReadCheckpoints);
      read.Text(workflow_id);
      for (;;) {
        Result<bool> row = read.Step();
        if (!row.ok()) return row.status();
        if (!*row) return Status::OK();
        documents[read.ColumnText(0)] = read.ColumnText(1);
      }
    }));
    return documents;
  }

  Result<TaskPage> ListTasks(const std::string& workflow_id, const TaskQuery& query) override {
    TaskPage page;
    TM_RETURN_IF_ERROR(InTransaction(kRead, [&]() -> Status {
      TM_RETURN_IF_ERROR(RequireWorkflow(workflow_id));
      // One row more than asked for says whether a next page exists.
      Query q(db_.get(), &statements_, query.status ? kListTasksByStatus : kListTasks);
      q.Text(workflow_id).Int(query.after.value_or(-1)).Int(query.limit + 1);
      if (query.status) q.Text(ToString(*query.status));
      for (;;) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) return Status::OK();
        if (static_cast<int64_t>(page.tasks.size()) == query.limit) {
          page.next_after = page.tasks.back().ordinal;
          return Status::OK();
        }
        Result<TaskRow> task = ReadTaskRow(q);
        if (!task.ok()) return task.status();
        page.tasks.push_back(std::move(task).value());
      }
    }));
    return page;
  }

  Result<TaskHistory> LoadTaskHistory(const std::string& workflow_id,
                                      const std::string& task_id) override {
    TaskHistory history;
    TM_RETURN_IF_ERROR(InTransaction(kRead, [&]() -> Status {
      TM_RETURN_IF_ERROR(RequireWorkflow(workflow_id));
      {
        Query q(db_.get(), &statements_, kReadTask);
        q.Text(workflow_id).Text(task_id);
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) {
          return Status::NotFound("workflow '" + workflow_id + "' has no task '" + task_id + "'");
        }
        Result<TaskRow> task = ReadTaskRow(q);
        if (!task.ok()) return task.status();
        history.task = std::move(task).value();
      }
      Query q(db_.get(), &statements_, kReadAttempts);
      q.Text(workflow_id).Int(history.task.ordinal);
      for (;;) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) return Status::OK();
        Result<AttemptRow> attempt = ReadAttemptRow(q);
        if (!attempt.ok()) return attempt.status();
        history.attempts.push_back(std::move(attempt).value());
      }
    }));
    return history;
  }

  Result<std::map<int64_t, int64_t>> LoadShardFences(const std::string& workflow_id) override {
    std::map<int64_t, int64_t> fences;
    TM_RETURN_IF_ERROR(InTransaction(kRead, [&]() -> Status {
      fences.clear();
      Query read(db_.get(), &statements_, kReadShardFences);
      read.Text(workflow_id);
      for (;;) {
        Result<bool> row = read.Step();
        if (!row.ok()) return row.status();
        if (!*row) return Status::OK();
        fences[read.ColumnInt(0)] = read.ColumnInt(1);
      }
    }));
    return fences;
  }

  Result<ApplyResult> Apply(const Batch& batch) override {
    ApplyResult result;
    TM_RETURN_IF_ERROR(InTransaction(kWrite, [&]() -> Status {
      result = ApplyResult();
      return ApplyLocked(batch, &result);
    }));
    return result;
  }

  Result<RequeueResult> Requeue(const std::string& workflow_id,
                                const RequeueRequest& request) override {
    // '' takes either status (kRequeueTask).
    const std::string status = request.status ? ToString(*request.status) : "";
    RequeueSteps steps;
    steps.read_state = [&] { return ReadWorkflowState(workflow_id); };
    steps.requeue_task = [&](const std::string& task_id) -> Result<std::optional<int64_t>> {
      Query q(db_.get(), &statements_, kRequeueTask);
      q.Text(workflow_id).Text(task_id).Text(status);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) return std::optional<int64_t>();
      const int64_t ordinal = q.ColumnInt(0);
      TM_RETURN_IF_ERROR(q.Run());
      return std::optional<int64_t>(ordinal);
    };
    steps.requeue_all = [&]() -> Result<std::vector<int64_t>> {
      Query q(db_.get(), &statements_, kRequeueStatus);
      q.Text(workflow_id).Text(ToString(request.status.value_or(TaskStatus::kFailed)));
      std::vector<int64_t> ordinals;
      for (;;) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) return ordinals;
        ordinals.push_back(q.ColumnInt(0));
      }
    };
    steps.reopen = [&](const std::vector<int64_t>& ordinals) {
      Query reopen(db_.get(), &statements_, kReopenWorkflow);
      reopen.Text(workflow_id);
      TM_RETURN_IF_ERROR(reopen.Run());
      return UpdateWorkflowRow(workflow_id, ordinals, env_->NowUnixMillis());
    };
    RequeueResult result;
    TM_RETURN_IF_ERROR(InTransaction(kWrite, [&]() -> Status {
      return RequeueInTransaction(workflow_id, request, steps, &result);
    }));
    return result;
  }

  Result<std::vector<std::string>> DeleteFinishedBefore(int64_t cutoff_unix_ms) override {
    std::vector<std::string> deleted;
    TM_RETURN_IF_ERROR(InTransaction(kWrite, [&]() -> Status {
      deleted.clear();
      {
        // Task and checkpoint rows go with the workflow row (ON DELETE CASCADE).
        Query workflows(db_.get(), &statements_, kDeleteFinished);
        workflows.Time(cutoff_unix_ms);
        for (;;) {
          Result<bool> row = workflows.Step();
          if (!row.ok()) return row.status();
          if (!*row) break;
          deleted.push_back(workflows.ColumnText(0));
        }
      }
      for (const std::string& id : deleted) {
        Query fences(db_.get(), &statements_, kDeleteFences);
        fences.Text(id);
        TM_RETURN_IF_ERROR(fences.Run());
      }
      return Status::OK();
    }));
    return deleted;
  }

 private:
  enum TxnKind { kRead, kWrite };

  // Constant SQL without parameters (pragmas, transaction control, DDL).
  Status Exec(const char* sql) {
    const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_.get(), rc, path_);
    return Status::OK();
  }

  // Runs body in one transaction and commits it when body succeeds. A write
  // takes the write lock up front (BEGIN IMMEDIATE), waiting for other writers
  // up to the busy timeout: a deferred transaction that read first could not
  // upgrade to a writer when another process wrote in between, and would fail
  // with SQLITE_BUSY whatever the timeout. A read is a WAL snapshot.
  template <typename Body>
  Status InTransaction(TxnKind kind, Body&& body) {
    TM_RETURN_IF_ERROR(Exec(kind == kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
    Status status = body();
    if (status.ok()) status = Exec("COMMIT");
    if (!status.ok() && sqlite3_get_autocommit(db_.get()) == 0) Exec("ROLLBACK");
    return status.WithContext(path_);
  }

  // Puts the file in WAL mode (a no-op once it is). Switching a new file takes
  // an exclusive lock without calling the busy handler, so when several
  // processes create the store at once the others get SQLITE_BUSY here: they
  // retry until the busy timeout, as the handler would have waited.
  Status UseWal() {
    constexpr int64_t kRetryMicros = 10000;
    const int64_t deadline =
        env_->MonotonicNanos() + int64_t{kSqliteBusyTimeoutMillis} * 1000 * 1000;
    for (;;) {
      Query mode(db_.get(), &statements_, kUseWal);
      Result<bool> row = mode.Step();
      if (row.ok()) {
        const std::string got = *row ? mode.ColumnText(0) : std::string();
        if (got == "wal") return Status::OK();
        return Status::IOError(path_ + ": SQLite cannot use WAL mode here (journal mode '" + got +
                               "')");
      }
      if (!row.status().IsBusy() || env_->MonotonicNanos() >= deadline) {
        return row.status().WithContext(path_);
      }
      env_->SleepForMicros(kRetryMicros);
    }
  }

  Result<int64_t> StoredSchemaVersion() {
    Query version(db_.get(), &statements_, kSchemaVersionQuery);
    Result<bool> row = version.Step();
    if (!row.ok()) return row.status();
    return version.ColumnInt(0);
  }

  Result<std::optional<WorkflowState>> ReadWorkflowState(const std::string& workflow_id) {
    Query read(db_.get(), &statements_, kReadWorkflowState);
    read.Text(workflow_id);
    Result<bool> row = read.Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<WorkflowState>();
    WorkflowState state;
    state.workflow_id = read.ColumnText(0);
    Result<WorkflowStatus> status =
        ParseStored(ParseWorkflowStatus(read.ColumnText(1)), "workflow status");
    if (!status.ok()) return status.status();
    state.status = *status;
    state.counts.total = read.ColumnInt(2);
    state.counts.succeeded = read.ColumnInt(3);
    state.counts.failed = read.ColumnInt(4);
    state.counts.running = read.ColumnInt(5);
    state.counts.pending = read.ColumnInt(6);
    state.counts.cancelled = read.ColumnInt(7);
    Result<int64_t> created = read.ColumnTime(8, "workflow created_at");
    if (!created.ok()) return created.status();
    Result<int64_t> updated = read.ColumnTime(9, "workflow updated_at");
    if (!updated.ok()) return updated.status();
    state.created_at_ms = *created;
    state.updated_at_ms = *updated;
    state.version = read.ColumnInt(10);
    if (!read.IsNull(11)) {
      state.budget = FailureBudget{read.ColumnInt(11), read.ColumnDouble(12),
                                   read.ColumnOptionalInt(13), read.ColumnOptionalInt(14)};
    }
    return std::optional<WorkflowState>(std::move(state));
  }

  // The workflow's counts from `sql`: kTaskGroups (its task rows) or
  // kShardGroups (the sum of its shard rows), both (status, final, n, started).
  Status CountTasks(const std::string& workflow_id, TaskCounts* counts, bool* any_started,
                    const char* sql = kTaskGroups) {
    Query groups(db_.get(), &statements_, sql);
    groups.Text(workflow_id);
    for (;;) {
      Result<bool> row = groups.Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::OK();
      Result<TaskStatus> status = ParseStored(ParseTaskStatus(groups.ColumnText(0)), "task status");
      if (!status.ok()) return status.status();
      AddTaskGroup(*status, groups.ColumnInt(1) != 0, groups.ColumnInt(2), counts);
      *any_started = *any_started || groups.ColumnInt(3) != 0;
    }
  }

  // The body of Apply, inside its write transaction.
  Status ApplyLocked(const Batch& batch, ApplyResult* result) {
    const Writer& w = batch.writer;
    const char* role = protocol::ToString(w.role);
    Result<std::optional<FenceSeq>> stored = ReadFence(w);
    if (!stored.ok()) return stored.status();
    const FenceCheck check = CheckFence(batch.fence, *stored);
    if (check.fenced) {
      result->fenced = true;
      return FillState(w.workflow_id, result);
    }
    const ApplyPlan plan = PlanBatch(batch, check.watermark);
    result->applied = plan.applied;
    result->skipped = plan.skipped;
    if (plan.empty()) return FillState(w.workflow_id, result);

    const int64_t now = env_->NowUnixMillis();
    const std::string& id = w.workflow_id;
    if (plan.init) {
      if (plan.init->workflow_id != id) {
        return Status::InvalidArgument("workflow_init record for workflow '" +
                                       plan.init->workflow_id + "' in a batch of workflow '" + id +
                                       "'");
      }
      Query q(db_.get(), &statements_, kInsertWorkflow);
      q.Text(id).Int(plan.init->task_count).Int(plan.init->batch_size);
      q.Int(plan.init->effective_batch_size).Text(plan.init->list_hash).Time(now).Time(now);
      TM_RETURN_IF_ERROR(q.Run());
    }
    for (const TaskListEntry& task : plan.task_list) {
      Query q(db_.get(), &statements_, kInsertTask);
      q.Text(id).Int(task.ordinal).Text(task.task_id);
      TM_RETURN_IF_ERROR(q.Run());
    }
    for (const protocol::TaskStartRecord* r : plan.starts) {
      Query q(db_.get(), &statements_, kStartTask);
      q.Int(r->attempt).Time(r->started_at_ms).Text(id).Int(r->ordinal).Text(r->task_id);
      TM_RETURN_IF_ERROR(q.Run());
      if (q.Changes() != 1) return MissingTask(id, "task_start", r->seq, r->ordinal, r->task_id);
    }
    TM_RETURN_IF_ERROR(StartAttempts(batch, plan.starts));
    TM_RETURN_IF_ERROR(ApplyCheckpoints(id, plan.checkpoints, now, result));
    for (const protocol::ProgressRecord* r : plan.progress) {
      Query q(db_.get(), &statements_, kTaskProgress);
      q.Int(r->done).Int(r->total).Text(id).Int(r->ordinal);
      TM_RETURN_IF_ERROR(q.Run());
      if (q.Changes() != 1) return MissingTask(id, "progress", r->seq, r->ordinal, "");
    }
    for (const protocol::NoteRecord* r : plan.notes) {
      Query q(db_.get(), &statements_, kTaskNote);
      q.Text(StorableText(r->text)).Text(id).Int(r->ordinal);
      TM_RETURN_IF_ERROR(q.Run());
      if (q.Changes() != 1) return MissingTask(id, "note", r->seq, r->ordinal, "");
    }
    for (const protocol::TaskEndRecord* r : plan.ends) {
      Query q(db_.get(), &statements_, kEndTask);
      q.Text(ToString(r->status)).Int(r->final ? 1 : 0).OptionalInt(FromExitCode(r->exit_code));
      q.Text(StorableText(r->error)).Time(r->finished_at_ms).Int(r->duration_ms);
      q.Text(id).Int(r->ordinal).Text(r->task_id);
      if (r->fingerprint.empty()) {
        q.Null();
      } else {
        q.Text(StorableText(r->fingerprint));
      }
      q.Int(r->fingerprint_streak);
      TM_RETURN_IF_ERROR(q.Run());
      if (q.Changes() != 1) return MissingTask(id, "task_end", r->seq, r->ordinal, r->task_id);
    }
    TM_RETURN_IF_ERROR(EndAttempts(id, batch.fence, plan.ends));
    if (plan.budget) {
      const FailureBudget& b = plan.budget->budget;
      Query q(db_.get(), &statements_, kRecordBudget);
      q.Text(id).Int(b.max_failures).Double(b.max_failure_percent);
      q.OptionalInt(b.task_retries).OptionalInt(b.quarantine_after);
      TM_RETURN_IF_ERROR(q.Run());
    }
    if (plan.final_status) {
      Query q(db_.get(), &statements_, kFinishWorkflow);
      q.Text(ToString(*plan.final_status)).Time(now).Text(id);
      TM_RETURN_IF_ERROR(q.Run());
      if (q.Changes() != 1) {
        return Status::InvalidArgument("commit record: workflow '" + id +
                                       "' to finalize was never initialized");
      }
    }
    std::vector<int64_t> counted = CountedOrdinals(plan);
    if (plan.commit && batch.writer.role == protocol::Role::kInit) {
      {
        Query q(db_.get(), &statements_, kReopenWorkflow);
        q.Text(id);
        TM_RETURN_IF_ERROR(q.Run());
      }
      Query q(db_.get(), &statements_, kReopenTasks);
      q.Text(id);
      while (true) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        counted.push_back(q.ColumnInt(0));
      }
    }
    TM_RETURN_IF_ERROR(UpdateWorkflowRow(id, counted, now));
    {
      Query q(db_.get(), &statements_, kStoreFence);
      q.Text(id).Text(role).Int(w.shard).Int(batch.fence).Int(plan.max_seq);
      TM_RETURN_IF_ERROR(q.Run());
    }
    return FillState(id, result);
  }

  // Adds each started task's attempt and deletes its attempts older than the
  // last kAttemptsKeptPerTask.
  Status StartAttempts(const Batch& batch,
                       const std::vector<const protocol::TaskStartRecord*>& starts) {
    const Writer& w = batch.writer;
    for (const protocol::TaskStartRecord* r : starts) {
      int64_t attempt = 0;
      {
        Query q(db_.get(), &statements_, kStartAttempt);
        q.Text(w.workflow_id).Int(r->ordinal).Int(batch.fence).Int(w.shard).Int(r->attempt);
        if (batch.pod.empty()) {
          q.Null();
        } else {
          q.Text(batch.pod);
        }
        q.Time(r->started_at_ms);
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) continue;  // this fence's attempt is recorded already
        attempt = q.ColumnInt(0);
        TM_RETURN_IF_ERROR(q.Run());
      }
      if (attempt <= kAttemptsKeptPerTask) continue;
      Query prune(db_.get(), &statements_, kPruneAttempts);
      prune.Text(w.workflow_id).Int(r->ordinal).Int(attempt - kAttemptsKeptPerTask);
      TM_RETURN_IF_ERROR(prune.Run());
    }
    return Status::OK();
  }

  // Completes the attempt of this fence of each ended task (a cancelled task
  // never started, so it has none).
  Status EndAttempts(const std::string& id, int64_t fence,
                     const std::vector<const protocol::TaskEndRecord*>& ends) {
    for (const protocol::TaskEndRecord* r : ends) {
      Query q(db_.get(), &statements_, kEndAttempt);
      q.Text(id).Int(r->ordinal).Int(fence).Time(r->finished_at_ms).Int(r->duration_ms);
      q.Text(ToString(OutcomeOf(*r))).Int(r->final ? 1 : 0).OptionalInt(FromExitCode(r->exit_code));
      q.Text(StorableText(r->error));
      if (const std::optional<std::string> normalized = NormalizedErrorOf(*r)) {
        q.Text(*normalized);
      } else {
        q.Null();
      }
      TM_RETURN_IF_ERROR(q.Run());
    }
    return Status::OK();
  }

  // The task row of a query's columns (kListTasks' order).
  static Result<TaskRow> ReadTaskRow(const Query& q) {
    TaskRow t;
    t.ordinal = q.ColumnInt(0);
    t.task_id = q.ColumnText(1);
    Result<TaskStatus> status = ParseStored(ParseTaskStatus(q.ColumnText(2)), "task status");
    if (!status.ok()) return status.status();
    t.status = *status;
    t.final = q.ColumnInt(3) != 0;
    t.attempts = q.ColumnInt(4);
    t.exit_code = ExitCodeFromColumn(q.ColumnOptionalInt(5));
    t.error = q.ColumnText(6);
    Result<std::optional<int64_t>> started = q.ColumnOptionalTime(7, "task started_at");
    if (!started.ok()) return started.status();
    Result<std::optional<int64_t>> finished = q.ColumnOptionalTime(8, "task finished_at");
    if (!finished.ok()) return finished.status();
    t.started_at_ms = *started;
    t.finished_at_ms = *finished;
    t.duration_ms = q.ColumnOptionalInt(9);
    t.generation = q.ColumnInt(10);
    t.failures = q.ColumnInt(11);
    return t;
  }

  static Result<AttemptRow> ReadAttemptRow(const Query& q) {
    AttemptRow a;
    a.attempt = q.ColumnInt(0);
    a.fence = q.ColumnInt(1);
    a.shard = q.ColumnInt(2);
    a.step_attempt = q.ColumnInt(3);
    a.pod = q.ColumnText(4);
    Result<int64_t> started = q.ColumnTime(5, "attempt started_at");
    if (!started.ok()) return started.status();
    Result<std::optional<int64_t>> finished = q.ColumnOptionalTime(6, "attempt finished_at");
    if (!finished.ok()) return finished.status();
    a.started_at_ms = *started;
    a.finished_at_ms = *finished;
    a.duration_ms = q.ColumnOptionalInt(7);
    Result<AttemptOutcome> outcome =
        ParseStored(ParseAttemptOutcome(q.ColumnText(8)), "attempt outcome");
    if (!outcome.ok()) return outcome.status();
    a.outcome = *outcome;
    a.final = q.ColumnInt(9) != 0;
    a.exit_code = ExitCodeFromColumn(q.ColumnOptionalInt(10));
    a.error = q.ColumnText(11);
    a.generation = q.ColumnInt(12);
    return a;
  }

  // NotFound unless the workflow has a row.
  Status RequireWorkflow(const std::string& workflow_id) {
    Query wf(db_.get(), &statements_, kReadWorkflowInit);
    wf.Text(workflow_id);
    Result<bool> row = wf.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
    return Status::OK();
  }

  // The writer's stored (fence, seq), nullopt when it has no fence row.
  Result<std::optional<FenceSeq>> ReadFence(const Writer& w) {
    Query fence(db_.get(), &statements_, kReadFence);
    fence.Text(w.workflow_id).Text(protocol::ToString(w.role)).Int(w.shard);
    Result<bool> row = fence.Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<FenceSeq>();
    return std::optional<FenceSeq>(FenceSeq{fence.ColumnInt(0), fence.ColumnInt(1)});
  }

  // Each task's generation, then its checkpoint row (current and backup);
  // the documents it now holds go to result->checkpoints.
  Status ApplyCheckpoints(const std::string& id, const std::vector<CheckpointUpsert>& checkpoints,
                          int64_t now, ApplyResult* result) {
    for (const CheckpointUpsert& u : checkpoints) {
      const CheckpointWrite& c = *u.current;
      {
        Query q(db_.get(), &statements_, kTaskGeneration);
        q.Int(c.generation).Text(id).Int(c.ordinal).Text(c.task_id);
        TM_RETURN_IF_ERROR(q.Run());
        if (q.Changes() != 1) return MissingTask(id, "checkpoint", c.seq, c.ordinal, c.task_id);
      }
      Query q(db_.get(), &statements_, kUpsertCheckpoint);
      q.Text(id).Text(c.task_id).Int(c.generation).Text(c.document);
      if (u.previous) {
        q.Int(u.previous->generation).Text(u.previous->document);
      } else {
        q.Int(0).Null();
      }
      q.Time(now);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (*row) result->checkpoints[c.task_id] = q.ColumnText(0);
      TM_RETURN_IF_ERROR(q.Run());
    }
    return Status::OK();
  }

  // Recounts the shards of `changed` into shard_counts, sums the workflow's
  // shard rows into its row and bumps its version; nothing when the workflow
  // has no row (a batch of only a commit record before init). The write lock
  // (BEGIN IMMEDIATE) is held throughout.
  Status UpdateWorkflowRow(const std::string& workflow_id, const std::vector<int64_t>& changed,
                           int64_t now) {
    std::optional<WorkflowStatus> finalized;
    int64_t shard_size = 1;
    {
      Query q(db_.get(), &statements_, kWorkflowFinish);
      q.Text(workflow_id);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::OK();
      if (q.ColumnInt(1) != 0) {
        Result<WorkflowStatus> status =
            ParseStored(ParseWorkflowStatus(q.ColumnText(0)), "workflow status");
        if (!status.ok()) return status.status();
        finalized = *status;
      }
      shard_size = std::max<int64_t>(q.ColumnInt(2), 1);
    }
    for (const ShardRun& run : ShardRuns(changed, shard_size)) {
      Query del(db_.get(), &statements_, kDeleteShardCounts);
      del.Text(workflow_id).Int(run.first).Int(run.last);
      TM_RETURN_IF_ERROR(del.Run());
      Query recount(db_.get(), &statements_, kRecountShards);
      recount.Text(workflow_id).Int(run.first).Int(run.last).Int(shard_size);
      TM_RETURN_IF_ERROR(recount.Run());
    }
    TaskCounts counts;
    bool any_started = false;
    TM_RETURN_IF_ERROR(CountTasks(workflow_id, &counts, &any_started, kShardGroups));
    const WorkflowStatus status = WorkflowStatusAfterWrite(counts, any_started, finalized);
    Query q(db_.get(), &statements_, kStoreCounts);
    q.Text(ToString(status)).Int(counts.total).Int(counts.succeeded).Int(counts.failed);
    q.Int(counts.running).Int(counts.pending).Int(counts.cancelled).Time(now).Text(workflow_id);
    return q.Run();
  }

  // Sets result->state to the workflow's row, or to an empty state naming the
  // workflow when it has none yet.
  Status FillState(const std::string& workflow_id, ApplyResult* result) {
    Result<std::optional<WorkflowState>> state = ReadWorkflowState(workflow_id);
    if (!state.ok()) return state.status();
    if (*state) {
      result->state = std::move(**state);
    } else {
      result->state.workflow_id = workflow_id;
    }
    return Status::OK();
  }

  const std::string path_;
  Env* const env_;
  DbHandle db_;
  StatementCache statements_;  // after db_: finalized before the connection closes
};

}  // namespace

Status CheckFilesystemType(const std::string& dir, int64_t statfs_type) {
  const char* name = NetworkFilesystemName(statfs_type);
  if (name == nullptr) return Status::OK();
  return Status::InvalidArgument(
      "state directory " + dir + " is on " + name +
      ", a network filesystem: SQLite's file locks are not reliable there and sidecars writing "
      "at once could corrupt the store; use a local directory (--state-dir) or PostgreSQL "
      "(--postgres)");
}

Status CheckLocalFilesystem(const std::string& dir) {
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) != 0) return Status::FromErrno("statfs " + dir, errno);
  // f_type is a signed long; the magic numbers are 32-bit patterns.
  return CheckFilesystemType(dir, static_cast<int64_t>(static_cast<uint32_t>(fs.f_type)));
}

Result<std::unique_ptr<StateStore>> OpenSqliteStore(const std::string& path, Env* env) {
  const std::string dir = DirName(path);
  TM_RETURN_IF_ERROR(env->CreateDirs(dir));
  TM_RETURN_IF_ERROR(CheckLocalFilesystem(dir));
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);  // sqlite3_open_v2 returns a handle to close even when it fails
  if (rc != SQLITE_OK) return SqliteError(db.get(), rc, "open " + path);
  auto store = std::make_unique<SqliteStore>(path, env, std::move(db));
  TM_RETURN_IF_ERROR(store->Configure());
  return std::unique_ptr<StateStore>(std::move(store));
}

std::vector<StoreStatement> SqliteStatements() {
  return {
      {"BumpFence", kBumpFence},
      {"ReadFence", kReadFence},
      {"StoreFence", kStoreFence},
      {"InsertWorkflow", kInsertWorkflow},
      {"InsertTask", kInsertTask},
      {"StartTask", kStartTask},
      {"TaskGeneration", kTaskGeneration},
      {"UpsertCheckpoint", kUpsertCheckpoint},
      {"TaskProgress", kTaskProgress},
      {"TaskNote", kTaskNote},
      {"EndTask", kEndTask},
      {"ReopenWorkflow", kReopenWorkflow},
      {"ReopenTasks", kReopenTasks},
      {"RequeueTask", kRequeueTask},
      {"RequeueStatus", kRequeueStatus},
      {"FinishWorkflow", kFinishWorkflow},
      {"RecordBudget", kRecordBudget},
      {"WorkflowFinish", kWorkflowFinish},
      {"TaskGroups", kTaskGroups},
      {"DeleteShardCounts", kDeleteShardCounts},
      {"RecountShards", kRecountShards},
      {"ShardGroups", kShardGroups},
      {"StoreCounts", kStoreCounts},
      {"ReadWorkflowState", kReadWorkflowState},
      {"ReadWorkflowInit", kReadWorkflowInit},
      {"ReadStatuses", kReadStatuses},
      {"CountFinalFailures", kCountFinalFailures},
      {"ReadShardTasks", kReadShardTasks},
      {"ReadFailedTasks", kReadFailedTasks},
      {"ReadCheckpoints", kReadCheckpoints},
      {"ReadShardFences", kReadShardFences},
      {"DeleteFinished", kDeleteFinished},
      {"DeleteFences", kDeleteFences},
      {"StartAttempt", kStartAttempt},
      {"PruneAttempts", kPruneAttempts},
      {"EndAttempt", kEndAttempt},
      {"ListTasks", kListTasks},
      {"ListTasksByStatus", kListTasksByStatus},
      {"ReadTask", kReadTask},
      {"ReadAttempts", kReadAttempts},
  };
}

}  // namespace taskmaster::sidecar
