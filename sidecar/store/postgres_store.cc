#include "store/postgres_store.h"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "store/apply_plan.h"
#include "store/derived_state.h"
#include "store/postgres_dsn.h"
#include "store/schema_version.h"
#include "taskmaster/json.h"

// This store and sqlite_store.cc are the two SQL dialects of one design, kept apart
// on purpose: the same schema versions, statements and StateStore methods,
// each written for its own engine and C API (PostgreSQL here, SQLite there), so a
// change to one is made to the other too. What the dialects share without
// differing (planning a batch, deriving the counts, the schema version check)
// lives in apply_plan.h, derived_state.h and schema_version.h.
namespace taskmaster::sidecar {
namespace {

struct Migration {
  int64_t version;
  const char* name;
  const char* sql;  // constant DDL, run as one script inside the migration's transaction
};

// The schema, version by version. A released migration never changes; a new
// version appends one. Checkpoint documents are text, never jsonb: jsonb
// re-encodes a document, and its checksum covers the exact bytes.
//
// The migrations and statements here are written again in SQLite's dialect in
// sqlite_store.cc, on purpose: the two stores keep the same tables, columns and
// results (the conformance tests hold them to it), so a change to one is made
// to the other.
constexpr Migration kMigrations[] = {
    {1, "workflow, task, checkpoint and fence tables", R"sql(
CREATE TABLE workflow_states (
  workflow_id text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
  total bigint NOT NULL DEFAULT 0,
  succeeded bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  running bigint NOT NULL DEFAULT 0,
  pending bigint NOT NULL DEFAULT 0,
  cancelled bigint NOT NULL DEFAULT 0,
  task_count bigint NOT NULL,
  batch_size bigint NOT NULL,
  effective_batch_size bigint NOT NULL,
  list_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  version bigint NOT NULL DEFAULT 0
);
CREATE INDEX workflow_states_updated_at ON workflow_states (updated_at);
CREATE INDEX workflow_states_finished_at ON workflow_states (finished_at)
  WHERE finished_at IS NOT NULL;
CREATE TABLE task_states (
  workflow_id text NOT NULL REFERENCES workflow_states ON DELETE CASCADE,
  ordinal bigint NOT NULL,
  task_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed',
                                         'interrupted', 'cancelled')),
  final boolean NOT NULL DEFAULT false,
  exit_code integer,
  error text NOT NULL DEFAULT '',
  attempts bigint NOT NULL DEFAULT 0,
  started_at timestamptz,
  finished_at timestamptz,
  duration_ms bigint,
  generation bigint NOT NULL DEFAULT 0,
  progress_done bigint,
  progress_total bigint,
  note text,
  PRIMARY KEY (workflow_id, ordinal),
  UNIQUE (workflow_id, task_id)
);
CREATE INDEX task_states_final_failures ON task_states (workflow_id, ordinal)
  WHERE status = 'failed' AND final;
CREATE TABLE checkpoints (
  workflow_id text NOT NULL,
  task_id text NOT NULL,
  generation bigint NOT NULL,
  document text NOT NULL,
  backup_generation bigint NOT NULL DEFAULT 0,
  backup_document text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, task_id),
  FOREIGN KEY (workflow_id, task_id) REFERENCES task_states (workflow_id, task_id)
    ON DELETE CASCADE
);
CREATE TABLE fences (
  workflow_id text NOT NULL,
  role text NOT NULL CHECK (role IN ('init', 'shard', 'finalize')),
  shard bigint NOT NULL,
  fence bigint NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (workflow_id, role, shard)
);
)sql"},
    // Per-shard task counts, so a batch recounts its own shard rather than the
    // whole workflow. Filled from the task rows; the lock keeps writers of
    // the previous version from changing task rows while they are counted.
    {2, "per-shard task counts", R"sql(
LOCK TABLE task_states IN SHARE MODE;
CREATE TABLE shard_counts (
  workflow_id text NOT NULL REFERENCES workflow_states ON DELETE CASCADE,
  shard bigint NOT NULL,
  status text NOT NULL,
  final boolean NOT NULL,
  tasks bigint NOT NULL,
  started boolean NOT NULL,
  PRIMARY KEY (workflow_id, shard, status, final)
);
INSERT INTO shard_counts (workflow_id, shard, status, final, tasks, started)
SELECT t.workflow_id, t.ordinal / greatest(w.effective_batch_size, 1), t.status, t.final,
       count(*), bool_or(t.attempts > 0)
FROM task_states t JOIN workflow_states w ON w.workflow_id = t.workflow_id
GROUP BY 1, 2, 3, 4;
)sql"},
    // Per-task counts of failed and interrupted attempts: a failure is final
    // once the failures exceed the task's retry budget (--task-retries), and
    // interruptions (SIGTERM from outside) never spend it. A row's last attempt
    // is what the counts start from.
    {3, "per-task failure and interruption counts", R"sql(
ALTER TABLE task_states ADD COLUMN failures bigint NOT NULL DEFAULT 0,
  ADD COLUMN interruptions bigint NOT NULL DEFAULT 0;
UPDATE task_states SET failures = 1 WHERE status = 'failed';
UPDATE task_states SET interruptions = 1 WHERE status = 'interrupted';
)sql"},
    // Task attempts (task_reads.h) and tasks by status for keyset paging. The
    // index build holds off writers of task_states for its duration (a
    // migration runs before the shards of a release start).
    {4, "task attempts, tasks by status", R"sql(
CREATE TABLE task_attempts (
  workflow_id text NOT NULL,
  ordinal bigint NOT NULL,
  fence bigint NOT NULL,
  attempt bigint NOT NULL,
  shard bigint NOT NULL,
  step_attempt bigint NOT NULL,
  pod text,
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  duration_ms bigint,
  outcome text NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'timed_out',
                                           'interrupted', 'cancelled')),
  final boolean NOT NULL DEFAULT false,
  exit_code integer,
  error text NOT NULL DEFAULT '',
  normalized_error text,
  generation bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (workflow_id, ordinal, fence),
  FOREIGN KEY (workflow_id, ordinal) REFERENCES task_states ON DELETE CASCADE
);
CREATE INDEX task_states_status ON task_states (workflow_id, status, ordinal);
)sql"},
    // The failure budget the workflow's steps were given (FailureBudget,
    // state.h): NULL until a step of this version records it.
    {5, "the workflow's failure budget", R"sql(
ALTER TABLE workflow_states ADD COLUMN max_failures bigint,
  ADD COLUMN max_failure_percent double precision,
  ADD COLUMN task_retries bigint,
  ADD COLUMN quarantine_after bigint;
)sql"},
    // Quarantine (docs/protocol.md): the status 'quarantined' and each task's
    // failure streak. The final failures index holds quarantined tasks too.
    // Checking the new CHECK reads task_states once, holding off its writers.
    {6, "quarantine", R"sql(
ALTER TABLE task_states DROP CONSTRAINT task_states_status_check,
  ADD CONSTRAINT task_states_status_check CHECK (status IN ('pending', 'running', 'succeeded',
    'failed', 'interrupted', 'cancelled', 'quarantined')),
  ADD COLUMN fingerprint text,
  ADD COLUMN fingerprint_streak bigint NOT NULL DEFAULT 0;
DROP INDEX task_states_final_failures;
CREATE INDEX task_states_final_failures ON task_states (workflow_id, ordinal) WHERE final;
)sql"},
};
constexpr int64_t kSchemaVersion = static_cast<int64_t>(std::size(kMigrations));

// ---- Statements ---------------------------------------------------------------
// Every value is a parameter; nothing is spliced into SQL text. Times cross the
// wire as Unix milliseconds, converted by exact integer/interval arithmetic.

constexpr const char* kSetTimeouts =
    "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true), "
    "set_config('idle_in_transaction_session_timeout', $3, true)";

// Serializes concurrent migrations (a transaction-level lock, so it is released
// at commit even behind PgBouncer). The key is arbitrary but fixed: "tm_migr".
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7236832498935154)";
constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, "
    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
constexpr const char* kHasMigrationsTable = "SELECT to_regclass('schema_migrations') IS NOT NULL";
constexpr const char* kSchemaVersionQuery =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";
constexpr const char* kRecordMigration =
    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)";

constexpr const char* kBumpFence =
    "INSERT INTO fences (workflow_id, role, shard, fence, seq) VALUES ($1, $2, $3, 1, 0) "
    "ON CONFLICT (workflow_id, role, shard) DO UPDATE SET fence = fences.fence + 1, seq = 0 "
    "RETURNING fence";
constexpr const char* kPeekFence =
    "SELECT fence FROM fences WHERE workflow_id = $1 AND role = $2 AND shard = $3";
constexpr const char* kCreateFence =
    "INSERT INTO fences (workflow_id, role, shard, fence, seq) VALUES ($1, $2, $3, 0, 0) "
    "ON CONFLICT DO NOTHING";
constexpr const char* kLockFence =
    "SELECT fence, seq FROM fences WHERE workflow_id = $1 AND role = $2 AND shard = $3 "
    "FOR UPDATE";
constexpr const char* kStoreFence =
    "UPDATE fences SET fence = $4, seq = $5 WHERE workflow_id = $1 AND role = $2 AND shard = $3";

// A re-init (a resubmitted workflow resuming under its state key) reopens a
// finished workflow; what the list was recorded with stays.
constexpr const char* kInsertWorkflow =
    "INSERT INTO workflow_states (workflow_id, status, task_count, batch_size, "
    "effective_batch_size, list_hash) VALUES ($1, 'pending', $2, $3, $4, $5) "
    "ON CONFLICT (workflow_id) DO UPDATE SET finished_at = NULL";
constexpr const char* kInsertTasks =
    "INSERT INTO task_states (workflow_id, ordinal, task_id, status) "
    "SELECT $1, r.ordinal, r.task_id, 'pending' "
    "FROM json_to_recordset($2::json) AS r(ordinal bigint, task_id text) "
    "ON CONFLICT DO NOTHING";
// A start begins a new attempt: what the previous attempt left (its end,
// progress) no longer describes the task.
constexpr const char* kStartTasks =
    "UPDATE task_states t SET status = 'running', final = false, exit_code = NULL, error = '', "
    "finished_at = NULL, duration_ms = NULL, progress_done = NULL, progress_total = NULL, "
    "attempts = greatest(t.attempts, r.attempt + 1), "
    "started_at = timestamptz 'epoch' + r.started_at_ms * interval '1 millisecond' "
    "FROM json_to_recordset($2::json) "
    "AS r(ordinal bigint, task_id text, attempt bigint, started_at_ms bigint) "
    "WHERE t.workflow_id = $1 AND t.ordinal = r.ordinal AND t.task_id = r.task_id "
    "RETURNING t.ordinal";
constexpr const char* kTaskGenerations =
    "UPDATE task_states t SET generation = greatest(t.generation, r.generation) "
    "FROM json_to_recordset($2::json) AS r(ordinal bigint, task_id text, generation bigint) "
    "WHERE t.workflow_id = $1 AND t.ordinal = r.ordinal AND t.task_id = r.task_id "
    "RETURNING t.ordinal";
// The backup rotates only when the generation grows; it becomes the batch's
// previous generation of the task when there is one, else the stored current.
// A lower generation than the stored one changes nothing.
constexpr const char* kUpsertCheckpoints =
    "INSERT INTO checkpoints AS c (workflow_id, task_id, generation, document, "
    "backup_generation, backup_document) "
    "SELECT $1, r.task_id, r.generation, r.document, r.backup_generation, r.backup_document "
    "FROM json_to_recordset($2::json) AS r(task_id text, generation bigint, document text, "
    "backup_generation bigint, backup_document text) "
    "ON CONFLICT (workflow_id, task_id) DO UPDATE SET "
    "backup_generation = CASE WHEN excluded.generation = c.generation THEN c.backup_generation "
    "WHEN excluded.backup_generation > c.generation THEN excluded.backup_generation "
    "ELSE c.generation END, "
    "backup_document = CASE WHEN excluded.generation = c.generation THEN c.backup_document "
    "WHEN excluded.backup_generation > c.generation THEN excluded.backup_document "
    "ELSE c.document END, "
    "generation = excluded.generation, document = excluded.document, updated_at = now() "
    "WHERE excluded.generation >= c.generation "
    "RETURNING c.task_id, c.document";
constexpr const char* kTaskProgress =
    "UPDATE task_states t SET progress_done = r.done, progress_total = r.total "
    "FROM json_to_recordset($2::json) AS r(ordinal bigint, done bigint, total bigint) "
    "WHERE t.workflow_id = $1 AND t.ordinal = r.ordinal RETURNING t.ordinal";
constexpr const char* kTaskNotes =
    "UPDATE task_states t SET note = r.note "
    "FROM json_to_recordset($2::json) AS r(ordinal bigint, note text) "
    "WHERE t.workflow_id = $1 AND t.ordinal = r.ordinal RETURNING t.ordinal";
constexpr const char* kEndTasks =
    "UPDATE task_states t SET status = r.status, final = r.final, exit_code = r.exit_code, "
    "error = r.error, "
    "finished_at = timestamptz 'epoch' + r.finished_at_ms * interval '1 millisecond', "
    "duration_ms = r.duration_ms, "
    "failures = t.failures + (r.status IN ('failed', 'quarantined'))::int, "
    "interruptions = t.interruptions + (r.status = 'interrupted')::int, "
    "fingerprint = r.fingerprint, fingerprint_streak = r.fingerprint_streak "
    "FROM json_to_recordset($2::json) AS r(ordinal bigint, task_id text, status text, "
    "final boolean, exit_code integer, error text, finished_at_ms bigint, duration_ms bigint, "
    "fingerprint text, fingerprint_streak bigint) "
    "WHERE t.workflow_id = $1 AND t.ordinal = r.ordinal AND t.task_id = r.task_id "
    "RETURNING t.ordinal";
// An init commit starts a run of the workflow (a resubmission resumes under its
// state key): the workflow is no longer finished, and what did not succeed in an
// earlier run (failed, cancelled, interrupted, left running) is pending again, so
// the new run's attempts and failure count start afresh. Succeeded tasks and
// every task's checkpoints stay.
constexpr const char* kReopenWorkflow =
    "UPDATE workflow_states SET finished_at = NULL WHERE workflow_id = $1";
constexpr const char* kReopenTasks =
    "UPDATE task_states SET status = 'pending', final = false, "
    "failures = CASE WHEN status = 'failed' AND final THEN 0 ELSE failures END "
    "WHERE workflow_id = $1 "
    "AND status IN ('failed', 'cancelled', 'interrupted', 'running') RETURNING ordinal";
// Requeue (state_store.h): one task by ID, or every task, that failed for good
// ($3 'failed') or was quarantined ($3 'quarantined', final too); $3 '' takes
// either.
constexpr const char* kRequeueTask =
    "UPDATE task_states SET status = 'pending', final = false, failures = 0, fingerprint = NULL, "
    "fingerprint_streak = 0 "
    "WHERE workflow_id = $1 AND task_id = $2 AND ($3 = '' OR status = $3) AND final "
    "RETURNING ordinal";
constexpr const char* kRequeueStatus =
    "UPDATE task_states SET status = 'pending', final = false, failures = 0, fingerprint = NULL, "
    "fingerprint_streak = 0 "
    "WHERE workflow_id = $1 AND status = $2 AND final RETURNING ordinal";
// $2 is the budget record itself; its null task_retries or quarantine_after
// (finalize's) keeps the stored one.
constexpr const char* kRecordBudget =
    "UPDATE workflow_states w SET max_failures = r.max_failures, "
    "max_failure_percent = r.max_failure_percent, "
    "task_retries = coalesce(r.task_retries, w.task_retries), "
    "quarantine_after = coalesce(r.quarantine_after, w.quarantine_after) "
    "FROM json_to_record($2::json) AS r(max_failures bigint, max_failure_percent double precision, "
    "task_retries bigint, quarantine_after bigint) WHERE w.workflow_id = $1";
constexpr const char* kFinishWorkflow =
    "UPDATE workflow_states SET status = $2, finished_at = now() WHERE workflow_id = $1 "
    "RETURNING 1";
// Taken before counting: concurrent shards update disjoint task rows, and each
// must count after the previous one committed, or its total would miss theirs.
// (In READ COMMITTED the next statement's snapshot sees what committed while it
// waited.) NO KEY UPDATE does not conflict with the key-share locks that
// inserting task rows (and shard_counts rows) takes on their workflow row.
constexpr const char* kLockWorkflow =
    "SELECT status, finished_at IS NOT NULL, effective_batch_size FROM workflow_states "
    "WHERE workflow_id = $1 FOR NO KEY UPDATE";
constexpr const char* kTaskGroups =
    "SELECT status, final, count(*), bool_or(attempts > 0) FROM task_states "
    "WHERE workflow_id = $1 GROUP BY status, final";
// A batch recounts the shards [$2, $3] whose task rows it changed: a range scan
// of the primary key over their ordinals [$2 * $4, ($3 + 1) * $4), never
// incremented. The workflow's counts are then the sum over its shard rows.
constexpr const char* kDeleteShardCounts =
    "DELETE FROM shard_counts WHERE workflow_id = $1 AND shard >= $2 AND shard <= $3";
constexpr const char* kRecountShards =
    "INSERT INTO shard_counts (workflow_id, shard, status, final, tasks, started) "
    "SELECT workflow_id, ordinal / $4::bigint, status, final, count(*), bool_or(attempts > 0) "
    "FROM task_states WHERE workflow_id = $1 AND ordinal >= $2::bigint * $4::bigint "
    "AND ordinal < ($3::bigint + 1) * $4::bigint GROUP BY 1, 2, 3, 4";
constexpr const char* kShardGroups =
    "SELECT status, final, sum(tasks), bool_or(started) FROM shard_counts "
    "WHERE workflow_id = $1 GROUP BY status, final";
constexpr const char* kStoreCounts =
    "UPDATE workflow_states SET status = $2, total = $3, succeeded = $4, failed = $5, "
    "running = $6, pending = $7, cancelled = $8, updated_at = now(), version = version + 1 "
    "WHERE workflow_id = $1";

constexpr const char* kReadWorkflowState =
    "SELECT workflow_id, status, total, succeeded, failed, running, pending, cancelled, "
    "(extract(epoch FROM created_at) * 1000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000)::bigint, version, max_failures, "
    "max_failure_percent, task_retries, quarantine_after "
    "FROM workflow_states WHERE workflow_id = $1";
constexpr const char* kReadWorkflowInit =
    "SELECT list_hash, task_count, batch_size, effective_batch_size FROM workflow_states "
    "WHERE workflow_id = $1";
constexpr const char* kReadStatuses =
    "SELECT status FROM task_states WHERE workflow_id = $1 ORDER BY ordinal";
// The shards' early stop counts the tasks that failed for good, not the
// quarantined ones (see sqlite_store.cc); finalize's verdict counts both.
constexpr const char* kCountFinalFailures =
    "SELECT count(*) FROM task_states WHERE workflow_id = $1 AND final AND status = 'failed'";
constexpr const char* kReadShardTasks =
    "SELECT t.ordinal, t.task_id, t.status, t.final, t.attempts, t.exit_code, t.error, "
    "c.generation, c.document, c.backup_generation, c.backup_document, t.failures, "
    "t.interruptions, t.fingerprint, t.fingerprint_streak "
    // LATERAL ... LIMIT 1 (the primary key allows one row; LIMIT keeps the planner
    // from flattening it back into a join): one index lookup per task of the shard.
    // A plain join hashed the whole workflow's checkpoints for one shard
    // (postgres_plan_test).
    "FROM task_states t LEFT JOIN LATERAL (SELECT * FROM checkpoints c "
    "WHERE c.workflow_id = t.workflow_id AND c.task_id = t.task_id LIMIT 1) c ON true "
    "WHERE t.workflow_id = $1 AND t.ordinal >= $2 AND t.ordinal < $3 ORDER BY t.ordinal";
constexpr const char* kReadFailedTasks =
    "SELECT task_id, exit_code, error FROM task_states "
    "WHERE workflow_id = $1 AND final ORDER BY ordinal LIMIT $2";
constexpr const char* kReadCheckpoints =
    "SELECT task_id, document FROM checkpoints WHERE workflow_id = $1";
constexpr const char* kReadShardFences =
    "SELECT shard, fence FROM fences WHERE workflow_id = $1 AND role = 'shard'";
// Task and checkpoint rows go with the workflow row (ON DELETE CASCADE).
constexpr const char* kDeleteFinished =
    "WITH gone AS (DELETE FROM workflow_states "
    "WHERE finished_at < timestamptz 'epoch' + $1::bigint * interval '1 millisecond' "
    "RETURNING workflow_id), "
    "fences_gone AS (DELETE FROM fences f USING gone WHERE f.workflow_id = gone.workflow_id) "
    "SELECT workflow_id FROM gone ORDER BY workflow_id";

// A task start adds the task's next attempt (numbered after the highest kept
// one) and deletes its attempts older than the last $6 (kAttemptsKeptPerTask);
// a start already recorded for this fence adds nothing. The DELETE sees the
// rows as they were before the INSERT, which only adds the newest.
constexpr const char* kStartAttempts =
    "WITH added AS (INSERT INTO task_attempts (workflow_id, ordinal, fence, attempt, shard, "
    "step_attempt, pod, started_at, outcome) "
    "SELECT $1, r.ordinal, $3::bigint, coalesce((SELECT max(a.attempt) FROM task_attempts a "
    "WHERE a.workflow_id = $1 AND a.ordinal = r.ordinal), 0) + 1, $4::bigint, r.attempt, "
    "nullif($5::text, ''), timestamptz 'epoch' + r.started_at_ms * interval '1 millisecond', "
    "'running' "
    "FROM json_to_recordset($2::json) AS r(ordinal bigint, attempt bigint, started_at_ms bigint) "
    "ON CONFLICT DO NOTHING RETURNING ordinal, attempt) "
    "DELETE FROM task_attempts a USING added WHERE a.workflow_id = $1 "
    "AND a.ordinal = added.ordinal AND a.attempt <= added.attempt - $6::bigint";
// After the batch's checkpoints: the generation is the one the attempt left.
constexpr const char* kEndAttempts =
    "UPDATE task_attempts a SET "
    "finished_at = timestamptz 'epoch' + r.finished_at_ms * interval '1 millisecond', "
    "duration_ms = r.duration_ms, outcome = r.outcome, final = r.final, "
    "exit_code = r.exit_code, error = r.error, normalized_error = r.normalized_error, "
    "generation = t.generation "
    "FROM json_to_recordset($2::json) AS r(ordinal bigint, outcome text, final boolean, "
    "exit_code integer, error text, normalized_error text, finished_at_ms bigint, "
    "duration_ms bigint), task_states t "
    "WHERE a.workflow_id = $1 AND a.ordinal = r.ordinal AND a.fence = $3::bigint "
    "AND t.workflow_id = $1 AND t.ordinal = r.ordinal";
// Keyset pages: the primary key, or (workflow_id, status, ordinal) for one status.
#define TM_TASK_COLUMNS                                           \
  "ordinal, task_id, status, final, attempts, exit_code, error, " \
  "(extract(epoch FROM started_at) * 1000)::bigint, "             \
  "(extract(epoch FROM finished_at) * 1000)::bigint, duration_ms, generation, failures "
constexpr const char* kListTasks =
    "SELECT " TM_TASK_COLUMNS
    "FROM task_states WHERE workflow_id = $1 AND ordinal > $2::bigint "
    "ORDER BY ordinal LIMIT $3::bigint";
constexpr const char* kListTasksByStatus =
    "SELECT " TM_TASK_COLUMNS
    "FROM task_states WHERE workflow_id = $1 AND status = $4 AND ordinal > $2::bigint "
    "ORDER BY ordinal LIMIT $3::bigint";
constexpr const char* kReadTask =
    "SELECT " TM_TASK_COLUMNS "FROM task_states WHERE workflow_id = $1 AND task_id = $2";
#undef TM_TASK_COLUMNS
// Fences grow with a task's attempts (task_reads.h): the key's order is theirs.
constexpr const char* kReadAttempts =
    "SELECT attempt, fence, shard, step_attempt, coalesce(pod, ''), "
    "(extract(epoch FROM started_at) * 1000)::bigint, "
    "(extract(epoch FROM finished_at) * 1000)::bigint, duration_ms, outcome, final, exit_code, "
    "error, generation FROM task_attempts WHERE workflow_id = $1 AND ordinal = $2::bigint "
    "ORDER BY fence";

// ---- The libpq C API, behind RAII ---------------------------------------------

struct ConnectionCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ConnectionHandle = std::unique_ptr<PGconn, ConnectionCloser>;
using ResultHandle = std::unique_ptr<PGresult, ResultClearer>;

// Server notices ("relation already exists, skipping") go to the log, not to
// stderr as libpq's default does.
void LogNotice(void*, const char* message) {
  spdlog::debug("PostgreSQL: {}", TrimLibpqMessage(message));
}

// The text parameters of one statement (batches need no NULL parameter: their
// NULLs travel inside the JSON).
class Params {
 public:
  Params& Text(std::string value) {
    values_.push_back(std::move(value));
    return *this;
  }
  Params& Int(int64_t value) { return Text(std::to_string(value)); }

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Pointers() const {
    std::vector<const char*> pointers;
    pointers.reserve(values_.size());
    for (const std::string& v : values_) pointers.push_back(v.c_str());
    return pointers;
  }

 private:
  std::vector<std::string> values_;
};

// The rows of a result, read as text.
class Rows {
 public:
  explicit Rows(ResultHandle result) : result_(std::move(result)) {}

  int size() const { return PQntuples(result_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(result_.get(), row, col),
                       static_cast<size_t>(PQgetlength(result_.get(), row, col)));
  }
  int64_t Int(int row, int col) const {
    return std::strtoll(PQgetvalue(result_.get(), row, col), nullptr, 10);
  }
  std::optional<int64_t> OptionalInt(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Int(row, col);
  }
  bool Bool(int row, int col) const { return PQgetvalue(result_.get(), row, col)[0] == 't'; }
  double Double(int row, int col) const {
    return std::strtod(PQgetvalue(result_.get(), row, col), nullptr);
  }

 private:
  ResultHandle result_;
};

// The task ID a record names; empty for those that name only an ordinal.
const std::string kNoTaskId;
const std::string& RecordTaskId(const protocol::TaskStartRecord& r) {
  return r.task_id;
}
const std::string& RecordTaskId(const CheckpointWrite& r) {
  return r.task_id;
}
const std::string& RecordTaskId(const protocol::ProgressRecord&) {
  return kNoTaskId;
}
const std::string& RecordTaskId(const protocol::NoteRecord&) {
  return kNoTaskId;
}
const std::string& RecordTaskId(const protocol::TaskEndRecord& r) {
  return r.task_id;
}

// OK when the statement returned every record's ordinal, else MissingTask for
// the first record whose task is not in the workflow.
template <typename Record>
Status CheckAllFound(const std::string& workflow_id, const char* kind,
                     const std::vector<const Record*>& records, const Rows& updated) {
  if (updated.size() == static_cast<int>(records.size())) return Status::OK();
  std::set<int64_t> found;
  for (int i = 0; i < updated.size(); ++i) found.insert(updated.Int(i, 0));
  for (const Record* r : records) {
    if (found.count(r->ordinal) == 0) {
      return MissingTask(workflow_id, kind, r->seq, r->ordinal, RecordTaskId(*r));
    }
  }
  return Status::OK();
}

// ---- Batches as JSON parameters ------------------------------------------------

std::string TaskListJson(const std::vector<TaskListEntry>& tasks) {
  JsonWriter w;
  w.StartArray();
  for (const TaskListEntry& t : tasks) {
    w.StartObject().Key("ordinal").Int64(t.ordinal).Key("task_id").String(t.task_id).EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::string StartsJson(const std::vector<const protocol::TaskStartRecord*>& starts) {
  JsonWriter w;
  w.StartArray();
  for (const protocol::TaskStartRecord* r : starts) {
    w.StartObject();
    w.Key("ordinal").Int64(r->ordinal).Key("task_id").String(r->task_id);
    w.Key("attempt").Int64(r->attempt).Key("started_at_ms").Int64(r->started_at_ms);
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::string CheckpointsJson(const std::vector<CheckpointUpsert>& checkpoints) {
  JsonWriter w;
  w.StartArray();
  for (const CheckpointUpsert& u : checkpoints) {
    const CheckpointWrite& c = *u.current;
    w.StartObject();
    w.Key("ordinal").Int64(c.ordinal).Key("task_id").String(c.task_id);
    w.Key("generation").Int64(c.generation).Key("document").String(c.document);
    w.Key("backup_generation").Int64(u.previous ? u.previous->generation : 0);
    w.Key("backup_document");
    if (u.previous) {
      w.String(u.previous->document);
    } else {
      w.OptionalInt(std::nullopt);
    }
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::string ProgressJson(const std::vector<const protocol::ProgressRecord*>& progress) {
  JsonWriter w;
  w.StartArray();
  for (const protocol::ProgressRecord* r : progress) {
    w.StartObject().Key("ordinal").Int64(r->ordinal).Key("done").Int64(r->done);
    w.Key("total").Int64(r->total).EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::string NotesJson(const std::vector<const protocol::NoteRecord*>& notes) {
  JsonWriter w;
  w.StartArray();
  for (const protocol::NoteRecord* r : notes) {
    w.StartObject().Key("ordinal").Int64(r->ordinal);
    w.Key("note").String(StorableText(r->text)).EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::string EndsJson(const std::vector<const protocol::TaskEndRecord*>& ends) {
  JsonWriter w;
  w.StartArray();
  for (const protocol::TaskEndRecord* r : ends) {
    w.StartObject();
    w.Key("ordinal").Int64(r->ordinal).Key("task_id").String(r->task_id);
    w.Key("status").String(ToString(r->status)).Key("final").Bool(r->final);
    w.Key("exit_code").OptionalInt(r->exit_code).Key("error").String(StorableText(r->error));
    w.Key("finished_at_ms").Int64(r->finished_at_ms).Key("duration_ms").Int64(r->duration_ms);
    // No fingerprint: a JSON null, which json_to_recordset makes NULL.
    w.Key("fingerprint");
    if (r->fingerprint.empty()) {
      w.Null();
    } else {
      w.String(StorableText(r->fingerprint));
    }
    w.Key("fingerprint_streak").Int64(r->fingerprint_streak);
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::string AttemptEndsJson(const std::vector<const protocol::TaskEndRecord*>& ends) {
  JsonWriter w;
  w.StartArray();
  for (const protocol::TaskEndRecord* r : ends) {
    w.StartObject();
    w.Key("ordinal").Int64(r->ordinal).Key("outcome").String(ToString(OutcomeOf(*r)));
    w.Key("final").Bool(r->final).Key("exit_code").OptionalInt(r->exit_code);
    w.Key("error").String(StorableText(r->error));
    const std::optional<std::string> normalized = NormalizedErrorOf(*r);
    w.Key("normalized_error");
    if (normalized) {
      w.String(*normalized);
    } else {
      w.Null();
    }
    w.Key("finished_at_ms").Int64(r->finished_at_ms).Key("duration_ms").Int64(r->duration_ms);
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

// The task row of a result's row (kListTasks' columns).
// The first seven columns every task read selects (ordinal, task_id, status,
// final, attempts, exit_code, error), into a TaskRow or a RestoredTask.
template <typename Task>
Status ReadTaskColumns(const Rows& rows, int i, Task* t) {
  t->ordinal = rows.Int(i, 0);
  t->task_id = rows.Text(i, 1);
  Result<TaskStatus> status = ParseStored(ParseTaskStatus(rows.Text(i, 2)), "task status");
  if (!status.ok()) return status.status();
  t->status = *status;
  t->final = rows.Bool(i, 3);
  t->attempts = rows.Int(i, 4);
  t->exit_code = ExitCodeFromColumn(rows.OptionalInt(i, 5));
  t->error = rows.Text(i, 6);
  return Status::OK();
}

Result<TaskRow> TaskRowOf(const Rows& rows, int i) {
  TaskRow t;
  TM_RETURN_IF_ERROR(ReadTaskColumns(rows, i, &t));
  t.started_at_ms = rows.OptionalInt(i, 7);
  t.finished_at_ms = rows.OptionalInt(i, 8);
  t.duration_ms = rows.OptionalInt(i, 9);
  t.generation = rows.Int(i, 10);
  t.failures = rows.Int(i, 11);
  return t;
}

Result<AttemptRow> AttemptRowOf(const Rows& rows, int i) {
  AttemptRow a;
  a.attempt = rows.Int(i, 0);
  a.fence = rows.Int(i, 1);
  a.shard = rows.Int(i, 2);
  a.step_attempt = rows.Int(i, 3);
  a.pod = rows.Text(i, 4);
  a.started_at_ms = rows.Int(i, 5);
  a.finished_at_ms = rows.OptionalInt(i, 6);
  a.duration_ms = rows.OptionalInt(i, 7);
  Result<AttemptOutcome> outcome =
      ParseStored(ParseAttemptOutcome(rows.Text(i, 8)), "attempt outcome");
  if (!outcome.ok()) return outcome.status();
  a.outcome = *outcome;
  a.final = rows.Bool(i, 9);
  a.exit_code = ExitCodeFromColumn(rows.OptionalInt(i, 10));
  a.error = rows.Text(i, 11);
  a.generation = rows.Int(i, 12);
  return a;
}

// ---- The store ----------------------------------------------------------------------

class PostgresStore final : public StateStore {
 public:
  explicit PostgresStore(PostgresOptions options) : options_(std::move(options)) {}

  Status Connect() {
    const std::string connect_timeout = std::to_string(options_.connect_timeout_seconds);
    // Ours first, the DSN last: libpq keeps the last value of a repeated
    // keyword, so what the DSN sets wins. Keepalives notice a dead peer while
    // waiting for a result.
    const char* const keys[] = {
        "connect_timeout",     "application_name", "client_encoding", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",          nullptr};
    const char* const values[] = {connect_timeout.c_str(), "tm-sidecar", "UTF8", "15", "5", "3",
                                  options_.dsn.c_str(),    nullptr};
    ConnectionHandle conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
    if (conn == nullptr) return Status::Unavailable("PostgreSQL: out of memory connecting");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      return Status::Unavailable("cannot connect to PostgreSQL: " +
                                 TrimLibpqMessage(PQerrorMessage(conn.get())));
    }
    PQsetNoticeProcessor(conn.get(), &LogNotice, nullptr);
    conn_ = std::move(conn);
    return Status::OK();
  }

  Status Migrate() override {
    // A migration may wait for another one's lock as long as it may run.
    return InTransaction(kWrite, options_.statement_timeout_ms, [&]() -> Status {
      TM_RETURN_IF_ERROR(Exec(kMigrationLock).status());
      TM_RETURN_IF_ERROR(ExecScript(kCreateMigrationsTable));
      Result<Rows> found = Exec(kSchemaVersionQuery);
      if (!found.ok()) return found.status();
      const int64_t version = found->Int(0, 0);
      TM_RETURN_IF_ERROR(CheckNotNewer(version, kSchemaVersion));
      for (const Migration& m : kMigrations) {
        if (m.version <= version) continue;
        TM_RETURN_IF_ERROR(ExecScript(m.sql));
        TM_RETURN_IF_ERROR(Exec(kRecordMigration, Params().Int(m.version).Text(m.name)).status());
      }
      return Status::OK();
    });
  }

  Status CheckSchema() override {
    int64_t found = 0;
    TM_RETURN_IF_ERROR(InTransaction(kRead, options_.lock_timeout_ms, [&]() -> Status {
      Result<Rows> has = Exec(kHasMigrationsTable);
      if (!has.ok()) return has.status();
      if (!has->Bool(0, 0)) return Status::OK();
      Result<Rows> version = Exec(kSchemaVersionQuery);
      if (!version.ok()) return version.status();
      found = version->Int(0, 0);
      return Status::OK();
    }));
    return CompareSchemaVersion(found, kSchemaVersion);
  }

  Result<int64_t> AcquireFence(const Writer& writer) override {
    int64_t fence = 0;
    TM_RETURN_IF_ERROR(InTransaction(kWrite, options_.lock_timeout_ms, [&]() -> Status {
      Queue(kBumpFence, WriterParams(writer),
            Check{[&fence](Rows bumped) {
                    fence = bumped.Int(0, 0);
                    return Status::OK();
                  },
                  false});
      return Status::OK();
    }));
    return fence;
  }

  Result<protocol::InitRestore> LoadInit(const std::string& workflow_id) override {
    protocol::InitRestore init;
    init.workflow_id = workflow_id;
    TM_RETURN_IF_ERROR(InTransaction(kRead, options_.lock_timeout_ms, [&]() -> Status {
      Result<Rows> wf = Exec(kReadWorkflowInit, Params().Text(workflow_id));
      if (!wf.ok()) return wf.status();
      if (wf->size() == 0) return Status::OK();
      init.exists = true;
      init.list_hash = wf->Text(0, 0);
      init.task_count = wf->Int(0, 1);
      init.batch_size = wf->Int(0, 2);
      init.effective_batch_size = wf->Int(0, 3);
      Result<Rows> tasks = Exec(kReadStatuses, Params().Text(workflow_id));
      if (!tasks.ok()) return tasks.status();
      init.statuses.reserve(static_cast<size_t>(tasks->size()));
      for (int i = 0; i < tasks->size(); ++i) {
        Result<TaskStatus> status = ParseStored(ParseTaskStatus(tasks->Text(i, 0)), "task status");
        if (!status.ok()) return status.status();
        init.statuses.push_back(*status);
      }
      return Status::OK();
    }));
    return init;
  }

  Result<ShardData> LoadShard(const std::string& workflow_id, int64_t shard) override {
    ShardData data;
    protocol::ShardRestore& restore = data.restore;
    TM_RETURN_IF_ERROR(InTransaction(kRead, options_.lock_timeout_ms, [&]() -> Status {
      data = ShardData();
      restore.workflow_id = workflow_id;
      restore.shard = shard;
      Result<Rows> wf = Exec(kReadWorkflowInit, Params().Text(workflow_id));
      if (!wf.ok()) return wf.status();
      if (wf->size() == 0) {
        return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
      }
      restore.task_count = wf->Int(0, 1);
      restore.batch_size = wf->Int(0, 3);
      const int64_t shards = protocol::ShardCount(restore.task_count, restore.batch_size);
      if (shard < 0 || shard >= shards) {
        return Status::InvalidArgument("shard " + std::to_string(shard) + " of workflow '" +
                                       workflow_id + "' does not exist (it has " +
                                       std::to_string(shards) + " shards)");
      }
      // Both reads travel with COMMIT: a read-only snapshot has nothing to
      // lose by committing before its rows are looked at.
      Queue(kCountFinalFailures, Params().Text(workflow_id),
            Check{[&restore](Rows failures) {
                    restore.final_failures = failures.Int(0, 0);
                    return Status::OK();
                  },
                  false});
      const protocol::OrdinalRange range =
          protocol::ShardRange(shard, restore.task_count, restore.batch_size);
      Queue(kReadShardTasks, Params().Text(workflow_id).Int(range.begin).Int(range.end),
            Check{[&data, &workflow_id](Rows tasks) {
                    return ReadShardTasks(workflow_id, tasks, &data);
                  },
                  true});
      return Status::OK();
    }));
    return data;
  }

  Result<protocol::WorkflowSummary> LoadSummary(const std::string& workflow_id) override {
    protocol::WorkflowSummary summary;
    TM_RETURN_IF_ERROR(InTransaction(kRead, options_.lock_timeout_ms, [&]() -> Status {
      summary = protocol::WorkflowSummary();
      summary.workflow_id = workflow_id;
      Result<std::optional<WorkflowState>> state = ReadWorkflowState(workflow_id);
      if (!state.ok()) return state.status();
      if (!*state) return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
      // Derived again rather than read from the row: the same rows, one truth.
      bool any_started = false;
      TM_RETURN_IF_ERROR(CountTasks(workflow_id, &summary.counts, &any_started));
      summary.failed_total = summary.counts.failed;
      Result<Rows> failed = Exec(
          kReadFailedTasks,
          Params().Text(workflow_id).Int(static_cast<int64_t>(protocol::kFailedTasksInSummary)));
      if (!failed.ok()) return failed.status();
      for (int i = 0; i < failed->size(); ++i) {
        summary.failed.push_back(protocol::FailedTask{
            failed->Text(i, 0), ExitCodeFromColumn(failed->OptionalInt(i, 1)), failed->Text(i, 2)});
      }
      return Status::OK();
    }));
    return summary;
  }

  Result<WorkflowState> LoadWorkflowState(const std::string& workflow_id) override {
    std::optional<WorkflowState> state;
    TM_RETURN_IF_ERROR(InTransaction(kRead, options_.lock_timeout_ms, [&]() -> Status {
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
    TM_RETURN_IF_ERROR(InTransaction(kRead, options_.lock_timeout_ms, [&]() -> Status {
      documents.clear();
      Result<std::optional<WorkflowState>> state = ReadWorkflowState(workflow_id);
      if (!state.ok()) return state.status();
      if (!*state) return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
      Result<Rows> rows = Exec(kReadCheckpoints, Params().Text(workflow_id));
      if (!rows.ok()) return rows.status();
      for (int i = 0; i < rows->size(); ++i) documents[rows->Text(i, 0)] = rows->Text(i, 1);
      return Status::OK();
    }));
    return documents;
  }

  Result<TaskPage> ListTasks(const std::string& workflow_id, const TaskQuery& query) override {
    TaskPage page;
    TM_RETURN_IF_ERROR(InTransaction(kRead, options_.lock_timeout_ms, [&]() -> Status {
      page = TaskPage();
      TM_RETURN_IF_ERROR(RequireWorkflow(workflow_id));
      // One row more than asked for says whether a next page exists.
      Params params = Params().Text(workflow_id).Int(query.after.value_or(-1)).Int(query.limit + 1);
      if (query.status) params.Text(ToString(*query.status));
      Result<Rows> rows = Exec(query.status ? kListTasksByStatus : kListTasks, params);
      if (!rows.ok()) return rows.status();
      const int n = static_cast<int>(std::min<int64_t>(rows->size(), query.limit));
      for (int i = 0; i < n; ++i) {
        Result<TaskRow> task = TaskRowOf(*rows, i);
        if (!task.ok()) return task.status();
        page.tasks.push_back(std::move(task).value());
      }
      if (rows->size() > n) page.next_after = page.tasks.back().ordinal;
      return Status::OK();
    }));
    return page;
  }

  Result<TaskHistory> LoadTaskHistory(const std::string& workflow_id,
                                      const std::string& task_id) override {
    TaskHistory history;
    TM_RETURN_IF_ERROR(InTransaction(kRead, options_.lock_timeout_ms, [&]() -> Status {
      history = TaskHistory();
      TM_RETURN_IF_ERROR(RequireWorkflow(workflow_id));
      Result<Rows> task = Exec(kReadTask, Params().Text(workflow_id).Text(task_id));
      if (!task.ok()) return task.status();
      if (task->size() == 0) {
        return Status::NotFound("workflow '" + workflow_id + "' has no task '" + task_id + "'");
      }
      Result<TaskRow> row = TaskRowOf(*task, 0);
      if (!row.ok()) return row.status();
      history.task = std::move(row).value();
      Result<Rows> attempts =
          Exec(kReadAttempts, Params().Text(workflow_id).Int(history.task.ordinal));
      if (!attempts.ok()) return attempts.status();
      for (int i = 0; i < attempts->size(); ++i) {
        Result<AttemptRow> attempt = AttemptRowOf(*attempts, i);
        if (!attempt.ok()) return attempt.status();
        history.attempts.push_back(std::move(attempt).value());
      }
      return Status::OK();
    }));
    return history;
  }

  Result<RequeueResult> Requeue(const std::string& workflow_id,
                                const RequeueRequest& request) override {
    // '' takes either status (kRequeueTask).
    const std::string status = request.status ? ToString(*request.status) : "";
    RequeueSteps steps;
    steps.read_state = [&] { return ReadWorkflowState(workflow_id); };
    steps.requeue_task = [&](const std::string& task_id) -> Result<std::optional<int64_t>> {
      Result<Rows> row = Exec(kRequeueTask, Params().Text(workflow_id).Text(task_id).Text(status));
      if (!row.ok()) return row.status();
      if (row->size() == 0) return std::optional<int64_t>();
      return std::optional<int64_t>(row->Int(0, 0));
    };
    steps.requeue_all = [&]() -> Result<std::vector<int64_t>> {
      Result<Rows> rows = Exec(
          kRequeueStatus,
          Params().Text(workflow_id).Text(ToString(request.status.value_or(TaskStatus::kFailed))));
      if (!rows.ok()) return rows.status();
      std::vector<int64_t> ordinals;
      for (int i = 0; i < rows->size(); ++i) ordinals.push_back(rows->Int(i, 0));
      return ordinals;
    };
    steps.reopen = [&](const std::vector<int64_t>& ordinals) {
      Queue(kReopenWorkflow, Params().Text(workflow_id));
      return UpdateWorkflowRow(workflow_id, ordinals);
    };
    RequeueResult result;
    TM_RETURN_IF_ERROR(InTransaction(kWrite, options_.lock_timeout_ms, [&]() -> Status {
      // Locked first, as a batch does, so no batch of the workflow interleaves.
      Result<Rows> locked = Exec(kLockWorkflow, Params().Text(workflow_id));
      if (!locked.ok()) return locked.status();
      return RequeueInTransaction(workflow_id, request, steps, &result);
    }));
    return result;
  }

  Result<std::map<int64_t, int64_t>> LoadShardFences(const std::string& workflow_id) override {
    std::map<int64_t, int64_t> fences;
    TM_RETURN_IF_ERROR(InTransaction(kRead, options_.lock_timeout_ms, [&]() -> Status {
      fences.clear();
      Result<Rows> rows = Exec(kReadShardFences, Params().Text(workflow_id));
      if (!rows.ok()) return rows.status();
      for (int i = 0; i < rows->size(); ++i) fences[rows->Int(i, 0)] = rows->Int(i, 1);
      return Status::OK();
    }));
    return fences;
  }

  Result<ApplyResult> Apply(const Batch& batch) override {
    ApplyResult result;
    TM_RETURN_IF_ERROR(InTransaction(kWrite, options_.lock_timeout_ms, [&]() -> Status {
      result = ApplyResult();
      return ApplyInTransaction(batch, &result);
    }));
    return result;
  }

  Result<std::vector<std::string>> DeleteFinishedBefore(int64_t cutoff_unix_ms) override {
    std::vector<std::string> deleted;
    TM_RETURN_IF_ERROR(InTransaction(kWrite, options_.lock_timeout_ms, [&]() -> Status {
      Result<Rows> rows = Exec(kDeleteFinished, Params().Int(cutoff_unix_ms));
      if (!rows.ok()) return rows.status();
      deleted.clear();
      for (int i = 0; i < rows->size(); ++i) deleted.push_back(rows->Text(i, 0));
      return Status::OK();
    }));
    return deleted;
  }

 private:
  enum TxnKind { kRead, kWrite };

  static Params WriterParams(const Writer& w) {
    return Params().Text(w.workflow_id).Text(protocol::ToString(w.role)).Int(w.shard);
  }

  // The shard's task rows (kReadShardTasks) into `data`.
  static Status ReadShardTasks(const std::string& workflow_id, const Rows& tasks, ShardData* data) {
    for (int i = 0; i < tasks.size(); ++i) {
      protocol::RestoredTask t;
      TM_RETURN_IF_ERROR(ReadTaskColumns(tasks, i, &t));
      t.failures = tasks.Int(i, 11);
      t.interruptions = tasks.Int(i, 12);
      if (!tasks.IsNull(i, 13)) t.fingerprint = tasks.Text(i, 13);
      t.fingerprint_streak = tasks.Int(i, 14);
      if (!tasks.IsNull(i, 7)) {
        StoredCheckpoint stored;
        stored.generation = tasks.Int(i, 7);
        stored.document = tasks.Text(i, 8);
        stored.backup_generation = tasks.Int(i, 9);
        if (!tasks.IsNull(i, 10)) stored.backup_document = tasks.Text(i, 10);
        RestoreDocument chosen = ChooseRestoreDocument(workflow_id, t.task_id, stored);
        t.generation = chosen.generation;
        data->documents[t.ordinal] = std::move(chosen.document);
      }
      data->restore.tasks.push_back(std::move(t));
    }
    return Status::OK();
  }

  // The Status for a failed statement. A lost connection is dropped (the next
  // call connects again) and reported as Unavailable; so is a server that is
  // shutting down or out of resources. The rest are the server's answers.
  Status Failure(const PGresult* result) {
    const char* sqlstate =
        result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const std::string state = sqlstate != nullptr ? sqlstate : "";
    std::string message = TrimLibpqMessage(result != nullptr ? PQresultErrorMessage(result)
                                                             : PQerrorMessage(conn_.get()));
    if (message.empty()) message = TrimLibpqMessage(PQerrorMessage(conn_.get()));
    if (!state.empty()) message += " (SQLSTATE " + state + ")";
    message = "PostgreSQL: " + message;
    const auto in_class = [&](const char* prefix) { return state.rfind(prefix, 0) == 0; };
    const bool lost = PQstatus(conn_.get()) != CONNECTION_OK || in_class("08") || in_class("57P") ||
                      state == "25P03";
    if (lost) {
      conn_.reset();
      return Status::Unavailable(message);
    }
    if (in_class("53")) return Status::Unavailable(message);
    if (state == "57014") return Status::Timeout(message);
    if (state == "55P03" || state == "40001" || state == "40P01") return Status::Busy(message);
    if (in_class("22") || in_class("23") || in_class("42")) {
      return Status::InvalidArgument(message);
    }
    return Status::IOError(message);
  }

  // What a queued statement's result is checked or read with, after it ran.
  // `fallible` when the check itself can refuse a result (a missing task):
  // such a check must run before the transaction commits.
  struct Check {
    std::function<Status(Rows)> read;
    bool fallible;
  };
  struct Queued {
    const char* sql;
    Params params;
    Check check;
  };

  // Queues a statement of the open transaction: it goes to the server with the
  // next Exec or Flush, in one round trip with the others (libpq's pipeline
  // mode). `check`, when set, gets its rows then, in queue order.
  void Queue(const char* sql, Params params = Params(), Check check = Check{}) {
    queued_.push_back(Queued{sql, std::move(params), std::move(check)});
  }

  // Runs the queued statements and then `sql`, and returns `sql`'s rows.
  Result<Rows> Exec(const char* sql, const Params& params = Params()) {
    if (conn_ == nullptr) TM_RETURN_IF_ERROR(Connect());
    if (queued_.empty()) {
      const std::vector<const char*> values = params.Pointers();
      ResultHandle result(PQexecParams(conn_.get(), sql, params.size(), nullptr, values.data(),
                                       nullptr, nullptr, /*resultFormat=*/0));
      const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Failure(result.get());
      return Rows(std::move(result));
    }
    std::optional<Rows> rows;
    Queue(sql, params,
          Check{[&rows](Rows r) {
                  rows.emplace(std::move(r));
                  return Status::OK();
                },
                false});
    TM_RETURN_IF_ERROR(Flush());
    return std::move(*rows);
  }

  // Sends every queued statement and one Sync, then reads their results in
  // order. The server stops at the first error (the rest come back aborted);
  // the first failure, of a statement or of a check, is the answer.
  Status Flush() {
    std::vector<Queued> queued = std::move(queued_);
    queued_.clear();
    if (queued.empty()) return Status::OK();
    if (conn_ == nullptr) TM_RETURN_IF_ERROR(Connect());
    PGconn* conn = conn_.get();
    if (PQenterPipelineMode(conn) != 1) return Failure(nullptr);
    for (const Queued& q : queued) {
      const std::vector<const char*> values = q.params.Pointers();
      if (PQsendQueryParams(conn, q.sql, q.params.size(), nullptr, values.data(), nullptr, nullptr,
                            /*resultFormat=*/0) != 1) {
        return Lost();
      }
    }
    if (PQpipelineSync(conn) != 1) return Lost();
    Status first = Status::OK();
    for (Queued& q : queued) {
      ResultHandle result(PQgetResult(conn));
      if (result == nullptr) return Lost();
      // Each statement's result is followed by a null one.
      while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
      if (!first.ok()) continue;
      const ExecStatusType status = PQresultStatus(result.get());
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        first = Failure(result.get());
        if (conn_ == nullptr) return first;
      } else if (q.check.read) {
        first = q.check.read(Rows(std::move(result)));
      }
    }
    ResultHandle sync(PQgetResult(conn));
    if (sync == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC ||
        PQexitPipelineMode(conn) != 1) {
      return Lost();
    }
    return first;
  }

  // The pipeline lost its place (the connection broke mid-way): the
  // connection is dropped and the next call connects again.
  Status Lost() {
    const std::string message = "PostgreSQL: " + TrimLibpqMessage(PQerrorMessage(conn_.get()));
    conn_.reset();
    return Status::Unavailable(message);
  }

  bool AnyFallibleQueued() const {
    return std::any_of(queued_.begin(), queued_.end(),
                       [](const Queued& q) { return q.check.fallible; });
  }

  // Constant SQL of several statements (the migrations), in the simple protocol.
  Status ExecScript(const char* sql) {
    TM_RETURN_IF_ERROR(Flush());
    if (conn_ == nullptr) TM_RETURN_IF_ERROR(Connect());
    ResultHandle result(PQexec(conn_.get(), sql));
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Failure(result.get());
    return Status::OK();
  }

  // Runs body in one transaction with this store's timeouts and commits it
  // when body succeeds. Reads are one REPEATABLE READ snapshot. When COMMIT
  // itself fails for a lost connection, whether the transaction committed is
  // unknown; retrying is safe because every write is conditional on (fence, seq).
  //
  // BEGIN and the timeouts are queued, to travel with the body's first
  // statement, and COMMIT goes with the body's last queued ones; a check that
  // can refuse a write's result runs before COMMIT is sent. Statements in one
  // pipeline each get the statement timeout afresh (the server restarts it per
  // Execute message), set_config's values included.
  template <typename Body>
  Status InTransaction(TxnKind kind, int lock_timeout_ms, Body&& body) {
    queued_.clear();
    Queue(kind == kRead ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" : "BEGIN");
    Queue(kSetTimeouts, Params()
                            .Int(options_.statement_timeout_ms)
                            .Int(lock_timeout_ms)
                            .Int(options_.idle_in_transaction_timeout_ms));
    Status status = body();
    if (status.ok() && kind == kWrite && AnyFallibleQueued()) status = Flush();
    if (status.ok()) status = Exec("COMMIT").status();
    queued_.clear();
    if (!status.ok() && conn_ != nullptr && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
      // The error that matters is `status`; a failed ROLLBACK drops the
      // connection by itself when it was lost.
      Exec("ROLLBACK");
    }
    return status;
  }

  Result<std::optional<WorkflowState>> ReadWorkflowState(const std::string& workflow_id) {
    Result<Rows> rows = Exec(kReadWorkflowState, Params().Text(workflow_id));
    if (!rows.ok()) return rows.status();
    if (rows->size() == 0) return std::optional<WorkflowState>();
    WorkflowState state;
    state.workflow_id = rows->Text(0, 0);
    Result<WorkflowStatus> status =
        ParseStored(ParseWorkflowStatus(rows->Text(0, 1)), "workflow status");
    if (!status.ok()) return status.status();
    state.status = *status;
    state.counts.total = rows->Int(0, 2);
    state.counts.succeeded = rows->Int(0, 3);
    state.counts.failed = rows->Int(0, 4);
    state.counts.running = rows->Int(0, 5);
    state.counts.pending = rows->Int(0, 6);
    state.counts.cancelled = rows->Int(0, 7);
    state.created_at_ms = rows->Int(0, 8);
    state.updated_at_ms = rows->Int(0, 9);
    state.version = rows->Int(0, 10);
    if (!rows->IsNull(0, 11)) {
      state.budget = FailureBudget{rows->Int(0, 11), rows->Double(0, 12), rows->OptionalInt(0, 13),
                                   rows->OptionalInt(0, 14)};
    }
    return std::optional<WorkflowState>(std::move(state));
  }

  // The workflow's counts from `sql`: kTaskGroups (its task rows) or
  // kShardGroups (the sum of its shard rows), both (status, final, n, started).
  Status CountTasks(const std::string& workflow_id, TaskCounts* counts, bool* any_started,
                    const char* sql = kTaskGroups) {
    Result<Rows> groups = Exec(sql, Params().Text(workflow_id));
    if (!groups.ok()) return groups.status();
    for (int i = 0; i < groups->size(); ++i) {
      Result<TaskStatus> status = ParseStored(ParseTaskStatus(groups->Text(i, 0)), "task status");
      if (!status.ok()) return status.status();
      AddTaskGroup(*status, groups->Bool(i, 1), groups->Int(i, 2), counts);
      *any_started = *any_started || groups->Bool(i, 3);
    }
    return Status::OK();
  }

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

  // The writer's fence row, locked for this transaction, or fenced = true when
  // a newer fence owns it.
  Result<FenceCheck> LockFence(const Writer& writer, int64_t batch_fence) {
    // A look without a lock first: a zombie's batch (the usual refused one) is
    // turned away without queueing behind the live writer's row lock.
    Result<Rows> peek = Exec(kPeekFence, WriterParams(writer));
    if (!peek.ok()) return peek.status();
    if (peek->size() > 0 && batch_fence < peek->Int(0, 0)) return FenceCheck{true, 0};
    if (peek->size() == 0) Queue(kCreateFence, WriterParams(writer));
    Result<Rows> locked = Exec(kLockFence, WriterParams(writer));
    if (!locked.ok()) return locked.status();
    if (locked->size() == 0) {
      // Deleted between the two statements: only gc deletes fences, with their
      // finished workflow.
      return Status::NotFound("the fence of " + std::string(protocol::ToString(writer.role)) + " " +
                              std::to_string(writer.shard) + " of workflow '" + writer.workflow_id +
                              "' was deleted with its finished workflow");
    }
    return CheckFence(batch_fence, FenceSeq{locked->Int(0, 0), locked->Int(0, 1)});
  }

  // Runs a batch statement over JSON rows and checks that each record found
  // its task.
  template <typename Record>
  Status UpdateTasks(const char* sql, const std::string& workflow_id, const char* kind,
                     const std::vector<const Record*>& records, const std::string& json) {
    if (records.empty()) return Status::OK();
    Queue(sql, Params().Text(workflow_id).Text(json),
          Check{[workflow_id, kind, records](Rows updated) {
                  return CheckAllFound(workflow_id, kind, records, updated);
                },
                true});
    return Status::OK();
  }

  Status ApplyInTransaction(const Batch& batch, ApplyResult* result) {
    const std::string& id = batch.writer.workflow_id;
    Result<FenceCheck> check = LockFence(batch.writer, batch.fence);
    if (!check.ok()) return check.status();
    if (check->fenced) {
      result->fenced = true;
      return FillState(id, result);
    }
    const ApplyPlan plan = PlanBatch(batch, check->watermark);
    result->applied = plan.applied;
    result->skipped = plan.skipped;
    if (plan.empty()) return FillState(id, result);

    if (plan.init) {
      if (plan.init->workflow_id != id) {
        return Status::InvalidArgument("workflow_init record for workflow '" +
                                       plan.init->workflow_id + "' in a batch of workflow '" + id +
                                       "'");
      }
      const protocol::WorkflowInitRecord& r = *plan.init;
      Queue(kInsertWorkflow, Params()
                                 .Text(id)
                                 .Int(r.task_count)
                                 .Int(r.batch_size)
                                 .Int(r.effective_batch_size)
                                 .Text(r.list_hash));
    }
    if (!plan.task_list.empty()) {
      Queue(kInsertTasks, Params().Text(id).Text(TaskListJson(plan.task_list)));
    }
    TM_RETURN_IF_ERROR(
        UpdateTasks(kStartTasks, id, "task_start", plan.starts, StartsJson(plan.starts)));
    TM_RETURN_IF_ERROR(StartAttempts(batch, plan.starts));
    TM_RETURN_IF_ERROR(ApplyCheckpoints(id, plan.checkpoints, result));
    TM_RETURN_IF_ERROR(
        UpdateTasks(kTaskProgress, id, "progress", plan.progress, ProgressJson(plan.progress)));
    TM_RETURN_IF_ERROR(UpdateTasks(kTaskNotes, id, "note", plan.notes, NotesJson(plan.notes)));
    TM_RETURN_IF_ERROR(UpdateTasks(kEndTasks, id, "task_end", plan.ends, EndsJson(plan.ends)));
    TM_RETURN_IF_ERROR(EndAttempts(id, batch.fence, plan.ends));
    if (plan.budget) Queue(kRecordBudget, Params().Text(id).Text(protocol::Encode(*plan.budget)));
    if (plan.final_status) {
      Queue(kFinishWorkflow, Params().Text(id).Text(ToString(*plan.final_status)),
            Check{[id](Rows finished) {
                    if (finished.size() == 1) return Status::OK();
                    return Status::InvalidArgument("commit record: workflow '" + id +
                                                   "' to finalize was never initialized");
                  },
                  true});
    }
    std::vector<int64_t> counted = CountedOrdinals(plan);
    if (plan.commit && batch.writer.role == protocol::Role::kInit) {
      Queue(kReopenWorkflow, Params().Text(id));
      Result<Rows> reopened = Exec(kReopenTasks, Params().Text(id));
      if (!reopened.ok()) return reopened.status();
      for (int i = 0; i < reopened->size(); ++i) counted.push_back(reopened->Int(i, 0));
    }
    TM_RETURN_IF_ERROR(UpdateWorkflowRow(id, counted));
    Params fence = WriterParams(batch.writer);
    fence.Int(batch.fence).Int(plan.max_seq);
    Queue(kStoreFence, fence);
    return FillState(id, result);
  }

  // Adds each started task's attempt, keeping the last kAttemptsKeptPerTask.
  Status StartAttempts(const Batch& batch,
                       const std::vector<const protocol::TaskStartRecord*>& starts) {
    if (starts.empty()) return Status::OK();
    const Writer& w = batch.writer;
    Queue(kStartAttempts, Params()
                              .Text(w.workflow_id)
                              .Text(StartsJson(starts))
                              .Int(batch.fence)
                              .Int(w.shard)
                              .Text(batch.pod)
                              .Int(kAttemptsKeptPerTask));
    return Status::OK();
  }

  // Completes the attempt of this fence of each ended task (a cancelled task
  // never started, so it has none).
  Status EndAttempts(const std::string& workflow_id, int64_t fence,
                     const std::vector<const protocol::TaskEndRecord*>& ends) {
    if (ends.empty()) return Status::OK();
    Queue(kEndAttempts, Params().Text(workflow_id).Text(AttemptEndsJson(ends)).Int(fence));
    return Status::OK();
  }

  // NotFound unless the workflow has a row.
  Status RequireWorkflow(const std::string& workflow_id) {
    Result<Rows> wf = Exec(kReadWorkflowInit, Params().Text(workflow_id));
    if (!wf.ok()) return wf.status();
    if (wf->size() == 0) {
      return Status::NotFound("workflow '" + workflow_id + "' was never initialized");
    }
    return Status::OK();
  }

  Status ApplyCheckpoints(const std::string& workflow_id,
                          const std::vector<CheckpointUpsert>& checkpoints, ApplyResult* result) {
    if (checkpoints.empty()) return Status::OK();
    const std::string json = CheckpointsJson(checkpoints);
    std::vector<const CheckpointWrite*> records;
    for (const CheckpointUpsert& u : checkpoints) records.push_back(u.current);
    // The task rows first: a checkpoint of an unknown task is refused by name
    // rather than by the foreign key.
    TM_RETURN_IF_ERROR(UpdateTasks(kTaskGenerations, workflow_id, "checkpoint", records, json));
    Queue(kUpsertCheckpoints, Params().Text(workflow_id).Text(json),
          Check{[result](Rows current) {
                  for (int i = 0; i < current.size(); ++i) {
                    result->checkpoints[current.Text(i, 0)] = current.Text(i, 1);
                  }
                  return Status::OK();
                },
                false});
    return Status::OK();
  }

  // Recounts the shards of `changed` into shard_counts, sums the workflow's
  // shard rows into its row and bumps its version; nothing when the workflow
  // has no row (a batch of only a commit record before init).
  Status UpdateWorkflowRow(const std::string& workflow_id, const std::vector<int64_t>& changed) {
    Result<Rows> row = Exec(kLockWorkflow, Params().Text(workflow_id));
    if (!row.ok()) return row.status();
    if (row->size() == 0) return Status::OK();
    std::optional<WorkflowStatus> finalized;
    if (row->Bool(0, 1)) {
      Result<WorkflowStatus> status =
          ParseStored(ParseWorkflowStatus(row->Text(0, 0)), "workflow status");
      if (!status.ok()) return status.status();
      finalized = *status;
    }
    const int64_t shard_size = std::max<int64_t>(row->Int(0, 2), 1);
    for (const ShardRun& run : ShardRuns(changed, shard_size)) {
      Params params = Params().Text(workflow_id).Int(run.first).Int(run.last);
      Queue(kDeleteShardCounts, params);
      Queue(kRecountShards, params.Int(shard_size));
    }
    TaskCounts counts;
    bool any_started = false;
    TM_RETURN_IF_ERROR(CountTasks(workflow_id, &counts, &any_started, kShardGroups));
    const WorkflowStatus status = WorkflowStatusAfterWrite(counts, any_started, finalized);
    Queue(kStoreCounts, Params()
                            .Text(workflow_id)
                            .Text(ToString(status))
                            .Int(counts.total)
                            .Int(counts.succeeded)
                            .Int(counts.failed)
                            .Int(counts.running)
                            .Int(counts.pending)
                            .Int(counts.cancelled));
    return Status::OK();
  }

  const PostgresOptions options_;
  ConnectionHandle conn_;       // null after a transport failure, until the next call
  std::vector<Queued> queued_;  // statements of the open transaction not sent yet
};

}  // namespace

Result<std::unique_ptr<StateStore>> OpenPostgresStore(const PostgresOptions& options) {
  TM_RETURN_IF_ERROR(ValidatePostgresDsn(options.dsn));
  auto store = std::make_unique<PostgresStore>(options);
  TM_RETURN_IF_ERROR(store->Connect());
  return std::unique_ptr<StateStore>(std::move(store));
}

std::vector<StoreStatement> PostgresStatements() {
  return {
      {"BumpFence", kBumpFence},
      {"PeekFence", kPeekFence},
      {"CreateFence", kCreateFence},
      {"LockFence", kLockFence},
      {"StoreFence", kStoreFence},
      {"InsertWorkflow", kInsertWorkflow},
      {"InsertTasks", kInsertTasks},
      {"StartTasks", kStartTasks},
      {"TaskGenerations", kTaskGenerations},
      {"UpsertCheckpoints", kUpsertCheckpoints},
      {"TaskProgress", kTaskProgress},
      {"TaskNotes", kTaskNotes},
      {"EndTasks", kEndTasks},
      {"ReopenWorkflow", kReopenWorkflow},
      {"ReopenTasks", kReopenTasks},
      {"RequeueTask", kRequeueTask},
      {"RequeueStatus", kRequeueStatus},
      {"FinishWorkflow", kFinishWorkflow},
      {"RecordBudget", kRecordBudget},
      {"LockWorkflow", kLockWorkflow},
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
      {"StartAttempts", kStartAttempts},
      {"EndAttempts", kEndAttempts},
      {"ListTasks", kListTasks},
      {"ListTasksByStatus", kListTasksByStatus},
      {"ReadTask", kReadTask},
      {"ReadAttempts", kReadAttempts},
  };
}

}  // namespace taskmaster::sidecar
