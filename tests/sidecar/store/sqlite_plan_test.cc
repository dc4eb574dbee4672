// The SQLite store's statements stay indexed at a million task rows: the plan
// of every statement it runs (SqliteStatements()) searches an index and never
// scans a table, on the store's own schema holding 1,000,000 task rows. SQLite
// plans without statistics here, as the store does (it never runs ANALYZE).
#include <sqlite3.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "store/sqlite_store.h"
#include "support/temp_dir.h"
#include "taskmaster/env.h"

namespace {

using taskmaster::Env;
using taskmaster::sidecar::OpenSqliteStore;
using taskmaster::sidecar::SqliteStatements;
using taskmaster::sidecar::StateStore;
using taskmaster::sidecar::StoreStatement;

constexpr int kTasks = 1000000;

// A plain connection to the store's file, beside the store.
class Db {
 public:
  explicit Db(const std::string& path) {
    BOOST_REQUIRE_EQUAL(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void Exec(const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, message << " in " << sql);
  }

  // The detail column of EXPLAIN QUERY PLAN, one line a step.
  std::vector<std::string> Plan(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    const std::string explain = std::string("EXPLAIN QUERY PLAN ") + sql;
    BOOST_REQUIRE_MESSAGE(sqlite3_prepare_v2(db_, explain.c_str(), -1, &stmt, nullptr) == SQLITE_OK,
                          sqlite3_errmsg(db_) << " in " << sql);
    std::vector<std::string> lines;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      lines.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)));
    }
    sqlite3_finalize(stmt);
    return lines;
  }

 private:
  sqlite3* db_ = nullptr;
};

// One workflow of kTasks tasks in shards of 1,000, a checkpoint for every tenth
// task, an attempt for every task, a fence and a count row for every shard;
// loaded in one transaction.
void LoadMillion(Db* db) {
  db->Exec("PRAGMA synchronous = OFF");
  db->Exec("BEGIN");
  db->Exec(
      "INSERT INTO workflow_states (workflow_id, status, task_count, batch_size, "
      "effective_batch_size, list_hash, created_at, updated_at) "
      "VALUES ('w-big', 'running', " +
      std::to_string(kTasks) +
      ", 1000, 1000, 'h', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')");
  db->Exec("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < " +
           std::to_string(kTasks) +
           ") INSERT INTO task_states (workflow_id, ordinal, task_id, status, final) "
           "SELECT 'w-big', i, 't' || i, CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'succeeded' "
           "END, i % 100 = 0 FROM n");
  db->Exec(
      "INSERT INTO checkpoints (workflow_id, task_id, generation, document, updated_at) "
      "SELECT workflow_id, task_id, 1, '{}', '2026-01-01T00:00:00.000Z' FROM task_states WHERE "
      "ordinal % 10 = 0");
  db->Exec(
      "INSERT INTO task_attempts (workflow_id, ordinal, fence, attempt, shard, step_attempt, "
      "started_at, outcome) SELECT workflow_id, ordinal, 1, 1, ordinal / 1000, 0, "
      "'2026-01-01T00:00:00.000Z', 'succeeded' FROM task_states");
  db->Exec(
      "INSERT INTO fences (workflow_id, role, shard, fence, seq) "
      "SELECT 'w-big', 'shard', ordinal / 1000, 1, 1 FROM task_states WHERE ordinal % 1000 = 0");
  db->Exec(
      "INSERT INTO shard_counts (workflow_id, shard, status, final, tasks, started) "
      "SELECT 'w-big', ordinal / 1000, 'succeeded', 1, 1000, 1 FROM task_states "
      "WHERE ordinal % 1000 = 0");
  db->Exec("COMMIT");
}

BOOST_AUTO_TEST_SUITE(sqlite_plan)

BOOST_AUTO_TEST_CASE(every_statement_searches_an_index_at_a_million_tasks) {
  taskmaster::test_support::TempDir dir("tm-sqlite-plan");
  const std::string path = dir / "state.db";
  {
    auto store = OpenSqliteStore(path, Env::Default());
    BOOST_REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    const auto migrated = (*store)->Migrate();
    BOOST_REQUIRE_MESSAGE(migrated.ok(), migrated.ToString());
  }
  Db db(path);
  LoadMillion(&db);
  BOOST_REQUIRE_EQUAL(db.Plan("SELECT * FROM task_states").front(), "SCAN task_states");

  const std::vector<StoreStatement> statements = SqliteStatements();
  BOOST_REQUIRE_GE(statements.size(), 20u);
  for (const StoreStatement& s : statements) {
    BOOST_TEST_CONTEXT(s.name) {
      const std::vector<std::string> plan = db.Plan(s.sql);
      for (const std::string& line : plan) {
        BOOST_TEST_INFO(line);
        // "SCAN x" (even "USING INDEX", a full index scan) reads every row; a
        // SEARCH is bounded by the key it looks up.
        BOOST_CHECK_MESSAGE(line.rfind("SCAN ", 0) != 0, s.name << " scans: " << line);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
