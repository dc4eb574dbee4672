// The stores: StateStore::Apply of a shard's flush (500 task_end or 500
// checkpoint records) in workflows of 1,000 and 100,000 tasks, and
// StateStore::LoadShard (a restore) of a 500-task shard whose tasks all have a
// checkpoint. PostgreSQL's beside pgbench on the same server: one INSERT of a
// task row per transaction for the flushes (issue 4's baseline, target >= 1),
// and one SELECT of a shard's 500 task rows with their checkpoints per
// transaction for the restore. SQLite's beside the SQLite C API doing the same
// rows on a file of its own on the same disk (sqlite_floor.h).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "operations.h"
#include "sqlite_floor.h"
#include "store/store_factory.h"
#include "store_workload.h"

namespace taskmaster::bench {
namespace {

constexpr int64_t kSmall = 1000;
constexpr int64_t kBig = 100000;
constexpr int64_t kShardTasks = 500;

struct StoreState {
  std::unique_ptr<sidecar::StateStore> store;
  std::unique_ptr<StoreWorkload> workload;
  std::unique_ptr<SqliteFloor> floor;
  std::vector<std::string> files;  // removed when the run ends
  ~StoreState() {
    workload.reset();
    store.reset();
    for (const std::string& file : files) ::unlink(file.c_str());
  }
};

Result<std::unique_ptr<sidecar::StateStore>> OpenMigrated(const std::string& spec) {
  Result<sidecar::StoreConfig> config = sidecar::ParseStoreConfig(spec);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<sidecar::StateStore>> store = sidecar::OpenStore(*config);
  if (!store.ok()) return store.status();
  TM_RETURN_IF_ERROR((*store)->Migrate());
  return store;
}

// The workflows every store operation runs on, recorded once per store.
Status RecordWorkflows(StoreWorkload* workload, const std::string& prefix) {
  TM_RETURN_IF_ERROR(workload->Record(prefix + std::to_string(kSmall), kSmall));
  TM_RETURN_IF_ERROR(workload->Record(prefix + std::to_string(kBig), kBig));
  return workload->CheckpointAll(prefix + std::to_string(kBig));
}

// The flushes and the restore on `workload`, against baselines 0 (flushes of
// task ends), 1 (flushes of checkpoints) and 2 (restore) — the same index for
// both kinds of flush when `shared_flush_baseline`.
std::vector<Operation> StoreOperations(StoreWorkload* workload, const std::string& prefix,
                                       double seconds, bool shared_flush_baseline,
                                       std::optional<double> flush_target) {
  using Kind = StoreWorkload::Kind;
  std::vector<Operation> operations;
  const auto flush = [&](Kind kind, int64_t tasks) {
    const std::string id = prefix + std::to_string(tasks);
    const std::string what = kind == Kind::kTaskEnds ? "task_end" : "checkpoint";
    operations.push_back(
        {"Apply, 500 " + what + " records per batch, " + std::to_string(tasks) + "-task workflow",
         "records/s", kind == Kind::kTaskEnds || shared_flush_baseline ? 0u : 1u, flush_target,
         [workload, id, kind, seconds] {
           return Rate(
               seconds, [workload, id, kind] { workload->Prepare(id, kind); },
               [workload] { return workload->Apply(); });
         }});
  };
  flush(Kind::kTaskEnds, kSmall);
  flush(Kind::kTaskEnds, kBig);
  flush(Kind::kCheckpoints, kSmall);
  flush(Kind::kCheckpoints, kBig);
  const std::string big = prefix + std::to_string(kBig);
  operations.push_back(
      {"LoadShard (restore), 500 tasks with checkpoints, " + std::to_string(kBig) +
           "-task workflow",
       "tasks/s", shared_flush_baseline ? 1u : 2u, std::nullopt, [workload, big, seconds] {
         return Rate(
             seconds, [] {}, [workload, big] { return workload->LoadNextShard(big); });
       }});
  return operations;
}

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return out ? Status::OK() : Status::IOError("cannot write " + path);
}

// tps from pgbench's report, times the rows each transaction does.
Measure Pgbench(const std::string& command, double rows_per_transaction) {
  return [command, rows_per_transaction]() -> Result<double> {
    Result<std::string> output = RunCommand(command);
    if (!output.ok()) return output.status();
    const size_t at = output->find("tps = ");
    if (at == std::string::npos) return Status::Corruption("no 'tps = ' in:\n" + *output);
    return std::stod(output->substr(at + 6)) * rows_per_transaction;
  };
}

constexpr const char* kInsertScript = R"sql(\set ordinal random(0, 99999)
INSERT INTO bench_task_ends (workflow_id, ordinal, task_id, status, final, exit_code, error, finished_at, duration_ms) VALUES ('bench-pgbench', :ordinal, 'task-' || lpad(:ordinal::text, 6, '0'), 'succeeded', false, 0, '', now(), 1234);
)sql";
constexpr const char* kSelectScript = R"sql(\set shard random(0, 199)
SELECT t.task_id, t.status, t.attempts, c.document FROM task_states t LEFT JOIN checkpoints c ON c.workflow_id = t.workflow_id AND c.task_id = t.task_id WHERE t.workflow_id = 'bench-pg-100000' AND t.ordinal >= :shard * 500 AND t.ordinal < :shard * 500 + 500 ORDER BY t.ordinal;
)sql";
constexpr const char* kCreateInsertTable =
    "CREATE TABLE IF NOT EXISTS bench_task_ends (id bigserial PRIMARY KEY, workflow_id text NOT "
    "NULL, ordinal bigint NOT NULL, task_id text NOT NULL, status text NOT NULL, final boolean "
    "NOT NULL, exit_code integer, error text NOT NULL DEFAULT '', finished_at timestamptz, "
    "duration_ms bigint)";

}  // namespace

Result<Group> PostgresGroup(const Settings& settings) {
  auto state = std::make_shared<StoreState>();
  Result<std::unique_ptr<sidecar::StateStore>> store = OpenMigrated(settings.postgres_dsn);
  if (!store.ok()) return store.status();
  state->store = std::move(*store);
  state->workload = std::make_unique<StoreWorkload>(state->store.get());
  TM_RETURN_IF_ERROR(RecordWorkflows(state->workload.get(), "bench-pg-"));

  const std::string dsn = ShellQuote(settings.postgres_dsn);
  Result<std::string> created =
      RunCommand("psql -X -q -v ON_ERROR_STOP=1 " + dsn + " -c " + ShellQuote(kCreateInsertTable));
  if (!created.ok()) return created.status();
  const std::string base = settings.dir + "/state-operations-" + std::to_string(::getpid());
  const std::string insert = base + "-insert.sql";
  const std::string select = base + "-select.sql";
  TM_RETURN_IF_ERROR(WriteText(insert, kInsertScript));
  TM_RETURN_IF_ERROR(WriteText(select, kSelectScript));
  state->files = {insert, select};
  const std::string pgbench = "pgbench -n -c 1 -T " + std::to_string(settings.pg_seconds) + " -f ";
  const std::string shown_dsn = " \"$TM_BENCH_POSTGRES_DSN\"";

  Group group;
  group.title = "PostgreSQL";
  group.baselines = {
      {"pgbench, one INSERT of a task row per transaction",
       pgbench + "insert.sql" + shown_dsn + "\n" + kInsertScript, "rows/s",
       Pgbench(pgbench + ShellQuote(insert) + " " + dsn, 1)},
      {"pgbench, one SELECT of a shard's 500 tasks and checkpoints per transaction",
       pgbench + "select.sql" + shown_dsn + "\n" + kSelectScript, "rows/s",
       Pgbench(pgbench + ShellQuote(select) + " " + dsn, kShardTasks)},
  };
  group.operations = StoreOperations(state->workload.get(), "bench-pg-", settings.seconds,
                                     /*shared_flush_baseline=*/true, 1.0);
  group.state = state;
  return group;
}

Result<Group> SqliteGroup(const Settings& settings) {
  auto state = std::make_shared<StoreState>();
  const std::string base = settings.dir + "/state-operations-" + std::to_string(::getpid());
  const std::string path = base + ".db";
  state->files = {path, path + "-wal", path + "-shm"};
  Result<std::unique_ptr<sidecar::StateStore>> store = OpenMigrated("sqlite:" + path);
  if (!store.ok()) return store.status();
  state->store = std::move(*store);
  state->workload = std::make_unique<StoreWorkload>(state->store.get());
  TM_RETURN_IF_ERROR(RecordWorkflows(state->workload.get(), "bench-sqlite-"));
  Result<std::unique_ptr<SqliteFloor>> floor = SqliteFloor::Create(base + "-floor.db");
  if (!floor.ok()) return floor.status();
  state->floor = std::move(*floor);

  SqliteFloor* f = state->floor.get();
  const double seconds = settings.seconds;
  const std::string where = "SQLite C API in-process, a file in " + settings.dir + ": ";
  Group group;
  group.title = "SQLite (" + settings.dir + ", WAL, synchronous = FULL)";
  group.baselines = {
      {"SQLite, 500 UPDATEs of task rows per transaction", where + SqliteFloor::UpdateTasksSql(),
       "rows/s",
       [f, seconds] {
         return Rate(
             seconds, [] {}, [f] { return f->UpdateTasks(); });
       }},
      {"SQLite, 500 checkpoint upserts per transaction",
       where + SqliteFloor::UpsertCheckpointsSql(), "rows/s",
       [f, seconds] {
         return Rate(
             seconds, [] {}, [f] { return f->UpsertCheckpoints(); });
       }},
      {"SQLite, one SELECT of 500 tasks and checkpoints", where + SqliteFloor::ReadRangeSql(),
       "rows/s",
       [f, seconds] {
         return Rate(
             seconds, [] {}, [f] { return f->ReadRange(); });
       }},
  };
  group.operations = StoreOperations(state->workload.get(), "bench-sqlite-", settings.seconds,
                                     /*shared_flush_baseline=*/false, std::nullopt);
  group.state = state;
  return group;
}

}  // namespace taskmaster::bench
