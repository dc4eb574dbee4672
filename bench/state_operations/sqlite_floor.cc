#include "sqlite_floor.h"

#include <unistd.h>

#include <cstdio>

#include "taskmaster/checkpoint.h"

namespace taskmaster::bench {
namespace {

constexpr int64_t kRows = 100000;
constexpr int64_t kRange = 500;

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE tasks (workflow_id TEXT NOT NULL, ordinal INTEGER NOT NULL, task_id TEXT NOT NULL,
  status TEXT NOT NULL, exit_code INTEGER, finished_at INTEGER, duration_ms INTEGER,
  PRIMARY KEY (workflow_id, ordinal));
CREATE TABLE checkpoints (workflow_id TEXT NOT NULL, task_id TEXT NOT NULL,
  generation INTEGER NOT NULL, document TEXT NOT NULL, PRIMARY KEY (workflow_id, task_id));
)sql";
constexpr const char* kInsertTask =
    "INSERT INTO tasks (workflow_id, ordinal, task_id, status) "
    "VALUES ('w', ?1, printf('task-%06d', ?1), ?3)";
constexpr const char* kUpdateTask =
    "UPDATE tasks SET status = ?3, exit_code = ?2 % 2, finished_at = ?2, duration_ms = ?2 "
    "WHERE workflow_id = 'w' AND ordinal = ?1";
constexpr const char* kUpsertCheckpoint =
    "INSERT INTO checkpoints (workflow_id, task_id, generation, document) "
    "VALUES ('w', printf('task-%06d', ?1), ?2, ?3) ON CONFLICT (workflow_id, task_id) "
    "DO UPDATE SET generation = excluded.generation, document = excluded.document";
constexpr const char* kReadRange =
    "SELECT t.task_id, t.status, c.document FROM tasks t LEFT JOIN checkpoints c "
    "ON c.workflow_id = t.workflow_id AND c.task_id = t.task_id "
    "WHERE t.workflow_id = 'w' AND t.ordinal >= ?1 AND t.ordinal < ?2 ORDER BY t.ordinal";

// A checkpoint document of the size the store's benchmark writes.
const std::string& Document() {
  static const std::string doc = [] {
    const CheckpointFields f{"w", "task-000000", 1, 1, 1, 1767225600000};
    Result<std::string> encoded = EncodeCheckpoint(
        f, R"({"file":"s3://bucket/input/part-00042.csv","row":123456,"bytes":987654321,)"
           R"("state":"ok"})");
    return encoded.ok() ? *encoded : std::string(283, 'x');
  }();
  return doc;
}

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  int prepared() const { return ok_; }
  // Binds (ordinal, number, text) and steps to the end; SQLITE_DONE on success.
  int Run(int64_t ordinal, int64_t number, const std::string& text) {
    sqlite3_reset(stmt_);
    sqlite3_bind_int64(stmt_, 1, ordinal);
    sqlite3_bind_int64(stmt_, 2, number);
    sqlite3_bind_text(stmt_, 3, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt_)) == SQLITE_ROW) {
      for (int col = 0; col < sqlite3_column_count(stmt_); ++col) sqlite3_column_text(stmt_, col);
    }
    return rc;
  }
  int64_t changes() const { return sqlite3_changes(sqlite3_db_handle(stmt_)); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int ok_ = SQLITE_ERROR;
};

Status SqliteError(sqlite3* db, const std::string& what) {
  return Status::IOError("sqlite floor: " + what + ": " + sqlite3_errmsg(db));
}

}  // namespace

Result<std::unique_ptr<SqliteFloor>> SqliteFloor::Create(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    Status s = SqliteError(db, "open " + path);
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<SqliteFloor> floor(new SqliteFloor(path, db));
  TM_RETURN_IF_ERROR(floor->Exec(kSchema));
  TM_RETURN_IF_ERROR(floor->Exec("BEGIN"));
  Statement task(db, kInsertTask);
  Statement checkpoint(db, kUpsertCheckpoint);
  if (task.prepared() != SQLITE_OK || checkpoint.prepared() != SQLITE_OK) {
    return SqliteError(db, "prepare");
  }
  for (int64_t i = 0; i < kRows; ++i) {
    if (task.Run(i, 0, "pending") != SQLITE_DONE ||
        checkpoint.Run(i, 1, Document()) != SQLITE_DONE) {
      return SqliteError(db, "fill");
    }
  }
  TM_RETURN_IF_ERROR(floor->Exec("COMMIT"));
  return floor;
}

SqliteFloor::~SqliteFloor() {
  sqlite3_close(db_);
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path_ + suffix).c_str());
}

const char* SqliteFloor::UpdateTasksSql() {
  return kUpdateTask;
}

const char* SqliteFloor::UpsertCheckpointsSql() {
  return kUpsertCheckpoint;
}

const char* SqliteFloor::ReadRangeSql() {
  return kReadRange;
}

Status SqliteFloor::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : "unknown";
    sqlite3_free(error);
    return Status::IOError("sqlite floor: " + message);
  }
  return Status::OK();
}

Result<int64_t> SqliteFloor::WriteRange(const char* sql, const std::string& text) {
  const int64_t begin = (next_++ * kRange) % kRows;
  Statement statement(db_, sql);
  if (statement.prepared() != SQLITE_OK) return SqliteError(db_, "prepare");
  TM_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  for (int64_t ordinal = begin; ordinal < begin + kRange; ++ordinal) {
    if (statement.Run(ordinal, round_, text) != SQLITE_DONE || statement.changes() != 1) {
      Exec("ROLLBACK");
      return SqliteError(db_, "write");
    }
  }
  TM_RETURN_IF_ERROR(Exec("COMMIT"));
  return kRange;
}

Result<int64_t> SqliteFloor::UpdateTasks() {
  // Every update changes the row's status, as the store's task ends do.
  return WriteRange(kUpdateTask, ++round_ % 2 == 0 ? "succeeded" : "failed");
}

Result<int64_t> SqliteFloor::UpsertCheckpoints() {
  ++round_;
  return WriteRange(kUpsertCheckpoint, Document());
}

Result<int64_t> SqliteFloor::ReadRange() {
  const int64_t begin = (next_++ * kRange) % kRows;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, kReadRange, -1, &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "prepare");
  }
  sqlite3_bind_int64(stmt, 1, begin);
  sqlite3_bind_int64(stmt, 2, begin + kRange);
  int64_t rows = 0;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    for (int col = 0; col < 3; ++col) sqlite3_column_text(stmt, col);
    ++rows;
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return SqliteError(db_, "read");
  return rows;
}

}  // namespace taskmaster::bench
