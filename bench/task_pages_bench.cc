// A page of `tm-sidecar tasks` at 1,000,000 tasks (issue 11): StateStore::
// ListTasks and LoadTaskHistory on SQLite and PostgreSQL, beside the baseline
// a keyset page replaces — the same page read with OFFSET — in the same run.
//
//   BM_<Store>Page/first         the first 100 tasks
//   BM_<Store>Page/deep          100 tasks after ordinal 900,000
//   BM_<Store>PageFailed/deep    100 failed tasks (1% of them) after 500,000
//   BM_<Store>History            one task and its attempts
//   BM_<Store>OffsetPage/deep    baseline: SELECT ... ORDER BY ordinal OFFSET 900000 LIMIT 100
//
// The workflow (1M tasks, 1% failed, one attempt each and a second for each
// failed task) is loaded with SQL once per process: SQLite in a temp file,
// PostgreSQL in TM_TEST_POSTGRES_DSN's database (scripts/test-services.sh;
// without it the PostgreSQL cases are skipped), under a workflow ID of this
// process that is deleted at exit. Target: a page in under 100 ms.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "store/state_store.h"
#include "store/store_factory.h"

namespace taskmaster::sidecar {
namespace {

constexpr int64_t kTasks = 1000000;
constexpr int64_t kPage = 100;

const std::string& WorkflowId() {
  static const std::string id = "bench-pages-" + std::to_string(::getpid());
  return id;
}

// Runs SQL through the engine's own C API (the load and the OFFSET baseline).
class RawSql {
 public:
  virtual ~RawSql() = default;
  virtual bool Exec(const std::string& sql) = 0;  // false when it failed (logged)
};

class RawSqlite final : public RawSql {
 public:
  explicit RawSqlite(const std::string& path) { sqlite3_open(path.c_str(), &db_); }
  ~RawSqlite() override { sqlite3_close_v2(db_); }
  bool Exec(const std::string& sql) override {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) std::fprintf(stderr, "sqlite: %s\n", error ? error : "?");
    sqlite3_free(error);
    return rc == SQLITE_OK;
  }

 private:
  sqlite3* db_ = nullptr;
};

class RawPostgres final : public RawSql {
 public:
  explicit RawPostgres(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {}
  ~RawPostgres() override { PQfinish(conn_); }
  bool Exec(const std::string& sql) override {
    PGresult* r = PQexec(conn_, sql.c_str());
    const ExecStatusType s = PQresultStatus(r);
    const bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    if (!ok) std::fprintf(stderr, "postgres: %s\n", PQresultErrorMessage(r));
    PQclear(r);
    return ok;
  }

 private:
  PGconn* conn_;
};

// The workflow's rows in `sql`'s dialect.
bool Load(RawSql* raw, bool postgres) {
  const std::string id = "'" + WorkflowId() + "'";
  const std::string n = std::to_string(kTasks);
  const std::string now = postgres ? "now()" : "'2026-01-01T00:00:00.000Z'";
  const std::string series =
      postgres ? "generate_series(0, " + n + " - 1) i"
               : "(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < " +
                     n + ") SELECT i FROM s)";
  const std::string yes = postgres ? "true" : "1";
  const std::string no = postgres ? "false" : "0";
  return raw->Exec("BEGIN") &&
         raw->Exec(
             "INSERT INTO workflow_states (workflow_id, status, task_count, batch_size, "
             "effective_batch_size, list_hash, created_at, updated_at) VALUES (" +
             id + ", 'running', " + n + ", 1000, 1000, 'h', " + now + ", " + now + ")") &&
         raw->Exec(
             "INSERT INTO task_states (workflow_id, ordinal, task_id, status, final, "
             "attempts, exit_code, error, started_at, finished_at, duration_ms) SELECT " +
             id +
             ", i, 'task-' || i, CASE WHEN i % 100 = 7 THEN 'failed' ELSE 'succeeded' "
             "END, CASE WHEN i % 100 = 7 THEN " +
             yes + " ELSE " + no + " END, 1, 0, '', " + now + ", " + now + ", 5 FROM " + series) &&
         raw->Exec(
             "INSERT INTO task_attempts (workflow_id, ordinal, fence, attempt, shard, "
             "step_attempt, started_at, finished_at, duration_ms, outcome) SELECT "
             "workflow_id, ordinal, 1, 1, ordinal / 1000, 0, started_at, finished_at, 5, "
             "status FROM task_states WHERE workflow_id = " +
             id) &&
         raw->Exec(
             "INSERT INTO task_attempts (workflow_id, ordinal, fence, attempt, shard, "
             "step_attempt, started_at, outcome) SELECT workflow_id, ordinal, 2, 2, "
             "ordinal / 1000, 1, started_at, 'failed' FROM task_states WHERE "
             "workflow_id = " +
             id + " AND status = 'failed'") &&
         raw->Exec("COMMIT") && (!postgres || raw->Exec("ANALYZE task_states, task_attempts"));
}

struct Fixture {
  std::unique_ptr<StateStore> store;
  std::unique_ptr<RawSql> raw;
  std::string error;
  std::string cleanup;
};

Fixture* Setup(bool postgres) {
  auto* f = new Fixture;  // lives for the process: the benchmarks share it
  std::string target;
  if (postgres) {
    const char* dsn = std::getenv("TM_TEST_POSTGRES_DSN");
    if (dsn == nullptr || *dsn == '\0') {
      f->error = "TM_TEST_POSTGRES_DSN is not set (scripts/test-services.sh start)";
      return f;
    }
    target = dsn;
  } else {
    const std::string dir =
        std::filesystem::temp_directory_path() / ("tm-pages-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    target = "sqlite:" + dir + "/state.db";
    f->cleanup = dir;
  }
  Result<StoreConfig> config = ParseStoreConfig(target);
  Result<std::unique_ptr<StateStore>> store =
      config.ok() ? OpenStore(*config) : Result<std::unique_ptr<StateStore>>(config.status());
  if (!store.ok() || !(*store)->Migrate().ok()) {
    f->error = "cannot open and migrate " + target;
    return f;
  }
  f->store = std::move(store).value();
  if (postgres) {
    f->raw = std::make_unique<RawPostgres>(target);
  } else {
    f->raw = std::make_unique<RawSqlite>(target.substr(7));
  }
  if (!Load(f->raw.get(), postgres)) f->error = "cannot load the workflow";
  return f;
}

// Made on first use; main() cleans up those that were made.
Fixture* g_sqlite = nullptr;
Fixture* g_postgres = nullptr;

Fixture* Get(bool postgres) {
  Fixture*& f = postgres ? g_postgres : g_sqlite;
  if (f == nullptr) f = Setup(postgres);
  return f;
}

void Page(benchmark::State& state, bool postgres, std::optional<TaskStatus> status, int64_t after) {
  Fixture* f = Get(postgres);
  if (!f->error.empty()) return state.SkipWithError(f->error.c_str());
  TaskQuery q;
  q.limit = kPage;
  q.status = status;
  if (after >= 0) q.after = after;
  for (auto _ : state) {
    Result<TaskPage> page = f->store->ListTasks(WorkflowId(), q);
    if (!page.ok() || static_cast<int64_t>(page->tasks.size()) != kPage) {
      return state.SkipWithError("a short or failed page");
    }
    benchmark::DoNotOptimize(page->next_after);
  }
}

void History(benchmark::State& state, bool postgres) {
  Fixture* f = Get(postgres);
  if (!f->error.empty()) return state.SkipWithError(f->error.c_str());
  for (auto _ : state) {
    Result<TaskHistory> h = f->store->LoadTaskHistory(WorkflowId(), "task-500007");
    if (!h.ok() || h->attempts.size() != 2) return state.SkipWithError("a failed history");
    benchmark::DoNotOptimize(h->task.ordinal);
  }
}

void OffsetPage(benchmark::State& state, bool postgres) {
  Fixture* f = Get(postgres);
  if (!f->error.empty()) return state.SkipWithError(f->error.c_str());
  const std::string sql =
      "SELECT ordinal, task_id, status, final, attempts, exit_code, error, started_at, "
      "finished_at, duration_ms, generation FROM task_states WHERE workflow_id = '" +
      WorkflowId() + "' ORDER BY ordinal LIMIT 100 OFFSET 900000";
  for (auto _ : state) {
    if (!f->raw->Exec(sql)) return state.SkipWithError("the OFFSET page failed");
  }
}

void BM_SqlitePage(benchmark::State& s) {
  Page(s, false, std::nullopt, s.range(0));
}
void BM_SqlitePageFailed(benchmark::State& s) {
  Page(s, false, TaskStatus::kFailed, 500000);
}
void BM_SqliteHistory(benchmark::State& s) {
  History(s, false);
}
void BM_SqliteOffsetPage(benchmark::State& s) {
  OffsetPage(s, false);
}
void BM_PostgresPage(benchmark::State& s) {
  Page(s, true, std::nullopt, s.range(0));
}
void BM_PostgresPageFailed(benchmark::State& s) {
  Page(s, true, TaskStatus::kFailed, 500000);
}
void BM_PostgresHistory(benchmark::State& s) {
  History(s, true);
}
void BM_PostgresOffsetPage(benchmark::State& s) {
  OffsetPage(s, true);
}

BENCHMARK(BM_SqlitePage)->Arg(-1)->Arg(900000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SqlitePageFailed)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SqliteHistory)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SqliteOffsetPage)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PostgresPage)->Arg(-1)->Arg(900000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PostgresPageFailed)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PostgresHistory)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PostgresOffsetPage)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace taskmaster::sidecar

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // The PostgreSQL rows go; the SQLite file's directory too.
  using taskmaster::sidecar::g_postgres;
  using taskmaster::sidecar::g_sqlite;
  if (g_postgres != nullptr && g_postgres->raw) {
    g_postgres->raw->Exec("DELETE FROM workflow_states WHERE workflow_id = '" +
                          taskmaster::sidecar::WorkflowId() + "'");
  }
  if (g_sqlite != nullptr && !g_sqlite->cleanup.empty()) {
    std::filesystem::remove_all(g_sqlite->cleanup);
  }
  return 0;
}
