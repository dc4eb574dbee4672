// The SQLite baseline of bench/state_operations: the least a store can do for
// one flush or one restore read, with the SQLite C API on a file of its own
// beside the store's (same disk, WAL, synchronous = FULL, as the store), on
// 100,000 rows per table:
//
//   UpdateTasks        one transaction of 500 prepared UPDATEs of task rows
//                      (status, exit code, finish time, duration)
//   UpsertCheckpoints  one transaction of 500 prepared INSERT ... ON CONFLICT
//                      DO UPDATE of a checkpoint row with its document
//   ReadRange          one SELECT of 500 task rows LEFT JOIN their checkpoints
//
// Each returns the rows it did.
#ifndef TASKMASTER_BENCH_STATE_OPERATIONS_SQLITE_FLOOR_H_
#define TASKMASTER_BENCH_STATE_OPERATIONS_SQLITE_FLOOR_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "taskmaster/status.h"

namespace taskmaster::bench {

class SqliteFloor {
 public:
  // Creates the file at `path` (removed by the destructor) and its rows.
  static Result<std::unique_ptr<SqliteFloor>> Create(const std::string& path);
  ~SqliteFloor();

  Result<int64_t> UpdateTasks();
  Result<int64_t> UpsertCheckpoints();
  Result<int64_t> ReadRange();

  // The SQL each runs, for the printed description.
  static const char* UpdateTasksSql();
  static const char* UpsertCheckpointsSql();
  static const char* ReadRangeSql();

 private:
  SqliteFloor(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  Status Exec(const std::string& sql);
  // Runs `sql` (one statement with three parameters: a row's ordinal, the
  // round, `text`) for the next 500 rows in one transaction.
  Result<int64_t> WriteRange(const char* sql, const std::string& text);

  std::string path_;
  sqlite3* db_;
  int64_t next_ = 0;  // ranges cycle over the rows
  int64_t round_ = 0;
};

}  // namespace taskmaster::bench

#endif  // TASKMASTER_BENCH_STATE_OPERATIONS_SQLITE_FLOOR_H_
