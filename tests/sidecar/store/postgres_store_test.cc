// The PostgreSQL store against the real server of scripts/test-services.sh
// (TM_TEST_POSTGRES_DSN, TM_TEST_PG_PORT). Each case runs in a database of its
// own, created through the server's postgres superuser.
#include "store/postgres_store.h"

#include <libpq-fe.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/store_factory.h"
#include "store_conformance.h"

// The conformance namespace holds the cases this store's harness runs and the
// helpers its own cases share with them.
namespace taskmaster::sidecar::conformance {
namespace {

using Clock = std::chrono::steady_clock;

std::string RequiredEnv(const char* name) {
  const char* value = std::getenv(name);
  BOOST_REQUIRE_MESSAGE(value != nullptr && *value != '\0',
                        name << " is not set: the PostgreSQL store tests need the server of "
                                "scripts/test-services.sh (run `make test`, or "
                                "eval \"$(scripts/test-services.sh start)\" first)");
  return value;
}

// The test DSN with another database name.
std::string DsnFor(const std::string& database) {
  const std::string dsn = RequiredEnv("TM_TEST_POSTGRES_DSN");
  const size_t slash = dsn.find('/', dsn.find("://") + 3);
  BOOST_REQUIRE_MESSAGE(slash != std::string::npos, "TM_TEST_POSTGRES_DSN has no database");
  const size_t query = dsn.find('?', slash);
  return dsn.substr(0, slash + 1) + database +
         (query == std::string::npos ? "" : dsn.substr(query));
}

// A plain libpq connection for what the tests do beside the store.
class Psql {
 public:
  explicit Psql(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    BOOST_REQUIRE_MESSAGE(PQstatus(conn_) == CONNECTION_OK,
                          "cannot connect: " << PQerrorMessage(conn_));
  }
  ~Psql() { PQfinish(conn_); }
  Psql(const Psql&) = delete;
  Psql& operator=(const Psql&) = delete;

  // Runs one statement with text parameters; fails the test on an error.
  PGresult* Run(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
    const ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
      const std::string error = PQresultErrorMessage(r);
      PQclear(r);
      BOOST_FAIL(error << " in " << sql);
    }
    return r;
  }
  void Exec(const std::string& sql, const std::vector<std::string>& params = {}) {
    PQclear(Run(sql, params));
  }
  std::optional<std::string> QueryOne(const std::string& sql,
                                      const std::vector<std::string>& params = {}) {
    PGresult* r = Run(sql, params);
    std::optional<std::string> value;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) value = PQgetvalue(r, 0, 0);
    PQclear(r);
    return value;
  }

 private:
  PGconn* conn_;
};

// Creates a new database owned by the test role, as the superuser.
std::string CreateDatabase() {
  static int counter = 0;
  const std::string name =
      "tm_store_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  Psql admin("postgresql://postgres@127.0.0.1:" + RequiredEnv("TM_TEST_PG_PORT") + "/postgres");
  // Identifiers cannot be parameters; this one is built from digits only.
  admin.Exec("CREATE DATABASE " + name + " OWNER taskmaster");
  return name;
}

std::unique_ptr<StateStore> MustOpen(const std::string& dsn) {
  PostgresOptions options;
  options.dsn = dsn;
  return Must(OpenPostgresStore(options), "OpenPostgresStore");
}

class PostgresHarness : public StoreHarness {
 public:
  PostgresHarness() : dsn_(DsnFor(CreateDatabase())), store_(MustOpen(dsn_)), psql_(dsn_) {
    const Status migrated = store_->Migrate();
    BOOST_REQUIRE_MESSAGE(migrated.ok(), migrated.ToString());
  }

  StateStore& store() override { return *store_; }
  std::unique_ptr<StateStore> OpenFresh() override { return MustOpen(DsnFor(CreateDatabase())); }
  void Exec(const std::string& sql) override { psql_.Exec(sql); }
  bool postgres() const override { return true; }
  std::optional<std::string> QueryOne(const std::string& sql) override {
    return psql_.QueryOne(sql);
  }

  const std::string& dsn() const { return dsn_; }
  Psql& psql() { return psql_; }

 private:
  std::string dsn_;
  std::unique_ptr<StateStore> store_;
  Psql psql_;
};

// A batch of one shard writer that ends `ordinal` as succeeded.
Batch EndBatch(TestWriter* w, int64_t ordinal, const std::string& task_id) {
  Batch b = w->NewBatch();
  w->Start(&b, ordinal, task_id);
  w->End(&b, ordinal, task_id, TaskStatus::kSucceeded);
  return b;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TM_STORE_CONFORMANCE_TESTS(postgres_conformance, PostgresHarness)

BOOST_FIXTURE_TEST_SUITE(postgres_store, PostgresHarness)

BOOST_AUTO_TEST_CASE(eight_processes_migrate_an_empty_database_at_once) {
  const std::string dsn = DsnFor(CreateDatabase());
  const int ok = RunAtOnce(8, [&](int) {
    PostgresOptions options;
    options.dsn = dsn;
    auto store = OpenPostgresStore(options);
    const Status s = store.ok() ? (*store)->Migrate() : store.status();
    if (!s.ok()) std::cerr << "Migrate: " << s.ToString() << "\n";
    return s.ok() ? 0 : 1;
  });
  BOOST_TEST(ok == 8);
  Psql check(dsn);
  // Every version exactly once, none missing.
  BOOST_TEST(check
                 .QueryOne("SELECT count(*) = count(DISTINCT version) AND count(*) = max(version) "
                           "FROM schema_migrations")
                 .value_or("") == "t");
  BOOST_TEST(check.QueryOne("SELECT count(*) FROM schema_migrations").value_or("") == "6");
  BOOST_TEST(MustOpen(dsn)->CheckSchema().ok());
}

BOOST_AUTO_TEST_CASE(concurrent_shards_keep_the_counts_exact) {
  // Shards commit at once; each must count after the others' commits, or a
  // total would miss a task.
  constexpr int kShards = 8;
  constexpr int64_t kBatch = 10;
  const std::string wf = "wf-shards";
  const std::vector<std::string> ids = TaskIds(kShards * kBatch);
  InitWorkflow(store(), wf, ids, kBatch);
  const std::string dsn = this->dsn();
  const int ok = RunAtOnce(kShards, [&](int shard) {
    PostgresOptions options;
    options.dsn = dsn;
    auto store = OpenPostgresStore(options);
    if (!store.ok()) return 1;
    auto fence = (*store)->AcquireFence({wf, pr::Role::kShard, shard});
    if (!fence.ok()) return 1;
    int64_t seq = 0;
    for (int64_t ordinal = shard * kBatch; ordinal < (shard + 1) * kBatch; ++ordinal) {
      Batch b;
      b.writer = {wf, pr::Role::kShard, shard};
      b.fence = *fence;
      pr::TaskEndRecord end;
      end.fence = *fence;
      end.seq = ++seq;
      end.ordinal = ordinal;
      end.task_id = ids[ordinal];
      end.status = TaskStatus::kSucceeded;
      b.ends.push_back(end);
      b.max_seq = seq;
      auto r = (*store)->Apply(b);
      if (!r.ok()) {
        std::cerr << "shard " << shard << ": " << r.status().ToString() << "\n";
        return 1;
      }
    }
    return 0;
  });
  BOOST_TEST(ok == kShards);
  const taskmaster::WorkflowState state = Must(store().LoadWorkflowState(wf), "state");
  BOOST_TEST(state.counts.succeeded == kShards * kBatch);
  BOOST_TEST(std::string(ToString(state.status)) == "succeeded");
  BOOST_TEST(psql().QueryOne("SELECT succeeded FROM workflow_states").value_or("") ==
             std::to_string(kShards * kBatch));
}

BOOST_AUTO_TEST_CASE(a_zombie_does_not_hold_up_the_live_writer) {
  const std::string wf = "wf-zombie-lock";
  const std::vector<std::string> ids = TaskIds(4);
  InitWorkflow(store(), wf, ids, 4);
  std::unique_ptr<StateStore> zombie_store = MustOpen(dsn());
  TestWriter zombie(*zombie_store, wf, pr::Role::kShard, 0);
  TestWriter live(store(), wf, pr::Role::kShard, 0);
  const Batch zombie_batch = EndBatch(&zombie, 0, ids[0]);

  // The live writer's transaction holds the fence row (as it does mid-batch).
  Psql holder(dsn());
  holder.Exec("BEGIN");
  holder.Exec("SELECT * FROM fences WHERE workflow_id = $1 AND role = 'shard' FOR UPDATE", {wf});
  // The zombie is turned away without queueing for that lock.
  Clock::time_point start = Clock::now();
  const ApplyResult refused = MustApply(*zombie_store, zombie_batch);
  BOOST_TEST(refused.fenced);
  BOOST_TEST(SecondsSince(start) < 1.0);

  // A live writer that must wait for a stalled holder gives up after the lock
  // timeout (Busy, to retry) instead of hanging on it.
  const Batch first = EndBatch(&live, 1, ids[1]);
  start = Clock::now();
  const Status busy = store().Apply(first).status();
  BOOST_TEST(busy.IsBusy(), busy.ToString());
  BOOST_TEST(SecondsSince(start) < 3.0);
  holder.Exec("COMMIT");
  start = Clock::now();
  BOOST_TEST(MustApply(store(), first).applied == 2);
  BOOST_TEST(SecondsSince(start) < 3.0);

  // Zombie batches keep arriving while the live writer works: every one is
  // refused and none slows the live writer down.
  std::atomic<bool> done{false};
  std::atomic<int> zombie_refused{0}, zombie_other{0};
  std::thread zombie_thread([&] {
    while (!done) {
      Result<ApplyResult> r = zombie_store->Apply(zombie_batch);
      (r.ok() && r->fenced ? zombie_refused : zombie_other)++;
    }
  });
  double slowest = 0;
  for (int i = 2; i < 4; ++i) {
    start = Clock::now();
    const Result<ApplyResult> r = store().Apply(EndBatch(&live, i, ids[i]));
    slowest = std::max(slowest, SecondsSince(start));
    BOOST_TEST((r.ok() && !r->fenced), r.status().ToString());
  }
  // The zombie gets its turns too before the thread stops.
  while (zombie_refused.load() < 3 && zombie_other.load() == 0) std::this_thread::yield();
  done = true;
  zombie_thread.join();
  BOOST_TEST(slowest < 3.0);
  BOOST_TEST(zombie_other.load() == 0);
  BOOST_TEST(Must(store().LoadWorkflowState(wf), "state").counts.succeeded == 3);
}

BOOST_AUTO_TEST_CASE(seed_queries_show_the_workflow_row) {
  const std::string wf = "uuid-123";
  const std::vector<std::string> ids = TaskIds(3);
  InitWorkflow(store(), wf, ids, 3);
  TestWriter shard(store(), wf, pr::Role::kShard, 0);
  Batch b = shard.NewBatch();
  for (int i = 0; i < 3; ++i) shard.End(&b, i, ids[i], TaskStatus::kSucceeded);
  MustApply(store(), b);
  TestWriter finalize(store(), wf, pr::Role::kFinalize, 0);
  b = finalize.NewBatch();
  finalize.Commit(&b, taskmaster::WorkflowStatus::kSucceeded);
  const ApplyResult r = MustApply(store(), b);

  // psql -c "SELECT * FROM workflow_states WHERE workflow_id = 'uuid-123'"
  PGresult* row = psql().Run("SELECT * FROM workflow_states WHERE workflow_id = 'uuid-123'");
  BOOST_REQUIRE(PQntuples(row) == 1);
  const auto column = [&](const char* name) -> std::string {
    const int col = PQfnumber(row, name);
    BOOST_REQUIRE_MESSAGE(col >= 0, "no column " << name);
    return PQgetisnull(row, 0, col) ? "NULL" : PQgetvalue(row, 0, col);
  };
  BOOST_TEST(column("workflow_id") == wf);
  BOOST_TEST(column("status") == "succeeded");
  BOOST_TEST(column("total") == "3");
  BOOST_TEST(column("succeeded") == "3");
  for (const char* zero : {"failed", "running", "pending", "cancelled"}) {
    BOOST_TEST(column(zero) == "0", zero);
  }
  BOOST_TEST(column("version") == std::to_string(r.state.version));
  BOOST_TEST(column("updated_at") != "NULL");
  BOOST_TEST(column("created_at") != "NULL");
  BOOST_TEST(column("finished_at") != "NULL");
  BOOST_TEST(column("list_hash") == pr::ListHash(ids));
  PQclear(row);
  // psql -c "SELECT * FROM workflow_states WHERE updated_at > NOW() - INTERVAL '1 hour'"
  BOOST_TEST(psql()
                 .QueryOne("SELECT workflow_id FROM workflow_states "
                           "WHERE updated_at > NOW() - INTERVAL '1 hour'")
                 .value_or("") == wf);
  // updated_at is the time of the last write, as the API reports it.
  BOOST_TEST(psql()
                 .QueryOne("SELECT (extract(epoch FROM updated_at) * 1000)::bigint "
                           "FROM workflow_states")
                 .value_or("") == std::to_string(r.state.updated_at_ms));
}

BOOST_AUTO_TEST_CASE(documents_are_stored_as_exact_text) {
  BOOST_TEST(psql()
                 .QueryOne("SELECT string_agg(data_type, ',' ORDER BY column_name) "
                           "FROM information_schema.columns WHERE table_name = 'checkpoints' "
                           "AND column_name IN ('document', 'backup_document')")
                 .value_or("") == "text,text");
  const std::string wf = "wf-bytes";
  InitWorkflow(store(), wf, {"t"}, 1);
  TestWriter w(store(), wf, pr::Role::kShard, 0);
  Batch b = w.NewBatch();
  // Key order and spacing that jsonb would rewrite.
  const std::string doc = w.Checkpoint(&b, 0, "t", 1, "{\"z\":1,\"a\":[1.50,\"é\\u00e9\"]}");
  MustApply(store(), b);
  BOOST_TEST(psql().QueryOne("SELECT document FROM checkpoints").value_or("") == doc);
  BOOST_TEST(Must(store().LoadShard(wf, 0), "LoadShard").documents.at(0) == doc);
}

BOOST_AUTO_TEST_CASE(a_lost_connection_is_unavailable_then_reconnects) {
  const std::string wf = "wf-reconnect";
  InitWorkflow(store(), wf, TaskIds(1), 1);
  // Ends the store's session from the server side, as a restart or a
  // PgBouncer that dropped its server connection would (waiting until it is
  // gone).
  psql().Exec(
      "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  const Status lost = store().LoadWorkflowState(wf).status();
  BOOST_TEST(lost.IsUnavailable(), lost.ToString());
  const Result<taskmaster::WorkflowState> again = store().LoadWorkflowState(wf);
  BOOST_TEST(again.ok(), again.status().ToString());
}

BOOST_AUTO_TEST_CASE(a_server_error_is_not_unavailable) {
  psql().Exec("DROP TABLE fences");
  const Status missing = store().AcquireFence({"wf", pr::Role::kInit, 0}).status();
  BOOST_TEST(missing.IsInvalidArgument(), missing.ToString());
  BOOST_TEST(missing.message().find("fences") != std::string::npos, missing.message());
  // The connection stays and works.
  BOOST_TEST(store().CheckSchema().ok());
}

// A fence bump is one round trip: BEGIN, the timeouts, the upsert and COMMIT
// in one pipeline. The timeouts set there hold for the upsert after them, and
// the connection is usable again after the pipeline failed.
BOOST_AUTO_TEST_CASE(timeouts_hold_inside_one_pipeline) {
  const pr::Role role = pr::Role::kShard;
  const Writer writer{"wf-pipeline-timeouts", role, 0};
  BOOST_TEST(Must(store().AcquireFence(writer), "first fence") == 1);
  PostgresOptions options;
  options.dsn = dsn();
  options.lock_timeout_ms = 200;
  std::unique_ptr<StateStore> lock_bound = Must(OpenPostgresStore(options), "lock-bound store");
  options.lock_timeout_ms = 60000;
  options.statement_timeout_ms = 300;
  std::unique_ptr<StateStore> statement_bound =
      Must(OpenPostgresStore(options), "statement-bound store");

  Psql holder(dsn());
  holder.Exec("BEGIN");
  holder.Exec("SELECT * FROM fences WHERE workflow_id = $1 FOR UPDATE", {writer.workflow_id});
  Clock::time_point start = Clock::now();
  const Status busy = lock_bound->AcquireFence(writer).status();
  BOOST_TEST(busy.IsBusy(), busy.ToString());
  BOOST_TEST(SecondsSince(start) < 5.0);
  start = Clock::now();
  const Status timed_out = statement_bound->AcquireFence(writer).status();
  BOOST_TEST(timed_out.IsTimeout(), timed_out.ToString());
  BOOST_TEST(SecondsSince(start) < 5.0);
  holder.Exec("COMMIT");

  // Nothing of the failed bumps was committed, and each store goes on.
  BOOST_TEST(Must(lock_bound->AcquireFence(writer), "fence after busy") == 2);
  BOOST_TEST(Must(statement_bound->AcquireFence(writer), "fence after timeout") == 3);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_unavailable) {
  PostgresOptions options;
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  options.dsn = "postgresql://taskmaster:dev@127.0.0.1:1/taskmaster";
  options.connect_timeout_seconds = 2;
  const Status s = OpenPostgresStore(options).status();
  BOOST_TEST(s.IsUnavailable(), s.ToString());
  BOOST_TEST(s.message().find("dev") == std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(store_config_parses_postgres_dsns) {
  for (const char* dsn : {"postgresql://taskmaster:dev@127.0.0.1:5432/taskmaster",
                          "postgres://db.internal/tm?sslmode=require&connect_timeout=3",
                          "postgresql:///tm?host=/var/run/postgresql"}) {
    const StoreConfig config = Must(ParseStoreConfig(dsn), dsn);
    BOOST_TEST((config.kind == StoreConfig::Kind::kPostgres), dsn);
    BOOST_TEST(config.postgres.dsn == dsn);
  }
  for (const char* bad :
       {"postgresql://u:s3cret@[::1/db", "postgresql://u:s3cret@host/db?nosuchoption=1"}) {
    const Status s = ParseStoreConfig(bad).status();
    BOOST_TEST(s.IsInvalidArgument(), bad);
    BOOST_TEST(s.message().find("s3cret") == std::string::npos, s.message());
  }
  const Status keywords = ParseStoreConfig("host=db dbname=tm").status();
  BOOST_TEST(keywords.IsInvalidArgument());
  BOOST_TEST(keywords.message().find("postgresql://") != std::string::npos, keywords.message());

  StoreConfig config = Must(ParseStoreConfig(dsn()), "test DSN");
  std::unique_ptr<StateStore> opened = Must(OpenStore(config), "OpenStore");
  BOOST_TEST(opened->CheckSchema().ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace taskmaster::sidecar::conformance
