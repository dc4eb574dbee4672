// The PostgreSQL store's statements stay indexed at a million task rows: on
// the store's own schema (Migrate) holding one workflow of 1,000,000 tasks and
// one of 1,000, analyzed so the planner knows, EXPLAIN (FORMAT JSON) of every
// statement the store runs (PostgresStatements()) has no Seq Scan of a task,
// checkpoint, fence or shard count table:
//  - for the small workflow, every statement;
//  - for the big one, every statement a batch, a shard's restore or a point
//    read runs. The statements that read the whole workflow by nature (init's
//    restore of every status, reopening it, the summary's counts, the
//    checkpoint export) may scan the table when that workflow is the table.
// Against the server of scripts/test-services.sh (TM_TEST_POSTGRES_DSN,
// TM_TEST_PG_PORT), in a database of its own.
#include <libpq-fe.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "store/postgres_store.h"
#include "taskmaster/json.h"

namespace {

using taskmaster::sidecar::OpenPostgresStore;
using taskmaster::sidecar::PostgresOptions;
using taskmaster::sidecar::PostgresStatements;
using taskmaster::sidecar::StoreStatement;

constexpr const char* kBig = "w-big";
constexpr const char* kSmall = "w-small";

std::string RequiredEnv(const char* name) {
  const char* value = std::getenv(name);
  BOOST_REQUIRE_MESSAGE(value != nullptr && *value != '\0',
                        name << " is not set: run `make test`, or "
                                "eval \"$(scripts/test-services.sh start)\" first");
  return value;
}

// One libpq connection; every statement's failure fails the test.
class Connection {
 public:
  explicit Connection(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    BOOST_REQUIRE_MESSAGE(PQstatus(conn_) == CONNECTION_OK,
                          "cannot connect: " << PQerrorMessage(conn_));
  }
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The first column of the first row ("" when none).
  std::string Run(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p == "NULL" ? nullptr : p.c_str());
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
    const ExecStatusType s = PQresultStatus(r);
    const std::string error = PQresultErrorMessage(r);
    const std::string first = s == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    BOOST_REQUIRE_MESSAGE(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK, error << " in " << sql);
    return first;
  }

 private:
  PGconn* conn_;
};

// The test DSN pointed at a new database of the test role.
std::string NewDatabaseDsn() {
  const std::string name = "tm_plan_" + std::to_string(::getpid());
  Connection admin("postgresql://postgres@127.0.0.1:" + RequiredEnv("TM_TEST_PG_PORT") +
                   "/postgres");
  admin.Run("DROP DATABASE IF EXISTS " + name);  // digits only: no quoting needed
  admin.Run("CREATE DATABASE " + name + " OWNER taskmaster");
  const std::string dsn = RequiredEnv("TM_TEST_POSTGRES_DSN");
  const size_t slash = dsn.find('/', dsn.find("://") + 3);
  const size_t query = dsn.find('?', slash);
  return dsn.substr(0, slash + 1) + name + (query == std::string::npos ? "" : dsn.substr(query));
}

// `tasks` tasks of `workflow` in shards of 1,000 (1% failed), a checkpoint for
// every tenth, an attempt for every task and two for every failed one, a fence
// and a count row for every shard.
void LoadWorkflow(Connection* db, const std::string& workflow, int tasks) {
  const std::vector<std::string> p = {workflow, std::to_string(tasks)};
  db->Run(
      "INSERT INTO workflow_states (workflow_id, status, task_count, batch_size, "
      "effective_batch_size, list_hash) VALUES ($1, 'running', $2::bigint, 1000, 1000, 'h')",
      p);
  db->Run(
      "INSERT INTO task_states (workflow_id, ordinal, task_id, status, final) "
      "SELECT $1, i, 't' || i, CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'succeeded' END, "
      "i % 100 = 0 "
      "FROM generate_series(0, $2::bigint - 1) i",
      p);
  db->Run(
      "INSERT INTO checkpoints (workflow_id, task_id, generation, document) "
      "SELECT $1, 't' || i, 1, '{}' FROM generate_series(0, $2::bigint - 1, 10) i",
      p);
  db->Run(
      "INSERT INTO task_attempts (workflow_id, ordinal, fence, attempt, shard, step_attempt, "
      "started_at, outcome) SELECT $1, i, f, f, i / 1000, f - 1, now(), 'succeeded' "
      "FROM generate_series(0, $2::bigint - 1) i, generate_series(1, 2) f "
      "WHERE f = 1 OR i % 100 = 0",
      p);
  db->Run(
      "INSERT INTO fences (workflow_id, role, shard, fence, seq) "
      "SELECT $1, 'shard', s, 1, 1 FROM generate_series(0, ($2::bigint - 1) / 1000) s",
      p);
  // Fences of earlier workflows too, as a store that ran many holds them: gc's
  // fence deletion must find its rows by index, not scan them all.
  db->Run(
      "INSERT INTO fences (workflow_id, role, shard, fence, seq) "
      "SELECT $1 || '-earlier-' || w, 'shard', s, 1, 1 "
      "FROM generate_series(1, 100) w, generate_series(0, ($2::bigint - 1) / 1000) s",
      p);
  db->Run(
      "INSERT INTO shard_counts (workflow_id, shard, status, final, tasks, started) "
      "SELECT $1, s, 'succeeded', true, 1000, true "
      "FROM generate_series(0, ($2::bigint - 1) / 1000) s",
      p);
}

// Parameters of each statement for workflow "W" (replaced by the workflow
// under test): a shard in the middle, one task of it per record kind.
const std::map<std::string, std::vector<std::string>>& Parameters() {
  static const std::map<std::string, std::vector<std::string>> params = {
      {"BumpFence", {"W", "shard", "7"}},
      {"PeekFence", {"W", "shard", "7"}},
      {"CreateFence", {"W", "shard", "7"}},
      {"LockFence", {"W", "shard", "7"}},
      {"StoreFence", {"W", "shard", "7", "2", "10"}},
      {"InsertWorkflow", {"W", "1000", "1000", "1000", "h"}},
      {"InsertTasks", {"W", R"([{"ordinal":500,"task_id":"t500"}])"}},
      {"StartTasks", {"W", R"([{"ordinal":500,"task_id":"t500","attempt":0,"started_at_ms":1}])"}},
      {"TaskGenerations", {"W", R"([{"ordinal":500,"task_id":"t500","generation":2}])"}},
      {"UpsertCheckpoints",
       {"W", R"([{"task_id":"t500","generation":2,"document":"{}","backup_generation":0}])"}},
      {"TaskProgress", {"W", R"([{"ordinal":500,"done":1,"total":2}])"}},
      {"TaskNotes", {"W", R"([{"ordinal":500,"note":"n"}])"}},
      {"EndTasks",
       {"W", R"([{"ordinal":500,"task_id":"t500","status":"succeeded","final":true,)"
             R"("exit_code":0,"error":"","finished_at_ms":2,"duration_ms":1}])"}},
      {"ReopenWorkflow", {"W"}},
      {"ReopenTasks", {"W"}},
      {"RequeueTask", {"W", "t500", "failed"}},
      {"RequeueStatus", {"W", "quarantined"}},
      {"FinishWorkflow", {"W", "succeeded"}},
      {"RecordBudget", {"W", R"({"max_failures":1,"max_failure_percent":2.5,"task_retries":3})"}},
      {"LockWorkflow", {"W"}},
      {"TaskGroups", {"W"}},
      {"DeleteShardCounts", {"W", "0", "0"}},
      {"RecountShards", {"W", "0", "0", "1000"}},
      {"ShardGroups", {"W"}},
      {"StoreCounts", {"W", "running", "1", "0", "0", "0", "1", "0"}},
      {"ReadWorkflowState", {"W"}},
      {"ReadWorkflowInit", {"W"}},
      {"ReadStatuses", {"W"}},
      {"CountFinalFailures", {"W"}},
      {"ReadShardTasks", {"W", "0", "1000"}},
      {"ReadFailedTasks", {"W", "20"}},
      {"ReadCheckpoints", {"W"}},
      {"ReadShardFences", {"W"}},
      {"DeleteFinished", {"0"}},
      {"StartAttempts",
       {"W", R"([{"ordinal":500,"task_id":"t500","attempt":0,"started_at_ms":1}])", "2", "0", "p",
        "10"}},
      {"EndAttempts",
       {"W",
        R"([{"ordinal":500,"outcome":"failed","final":false,"exit_code":1,"error":"e",)"
        R"("finished_at_ms":2,"duration_ms":1}])",
        "2"}},
      {"ListTasks", {"W", "500", "101"}},
      {"ListTasksByStatus", {"W", "500", "101", "running"}},
      {"ReadTask", {"W", "t500"}},
      {"ReadAttempts", {"W", "500"}},
  };
  return params;
}

// The statements that read every row of the workflow by nature.
const std::set<std::string>& WholeWorkflow() {
  static const std::set<std::string> names = {"ReadStatuses", "ReopenTasks", "TaskGroups",
                                              "ReadCheckpoints", "ShardGroups"};
  return names;
}

const std::set<std::string>& BigTables() {
  static const std::set<std::string> names = {"task_states", "checkpoints", "fences",
                                              "shard_counts", "task_attempts"};
  return names;
}

// The tables the plan node (and those below it) reads with a Seq Scan.
void SeqScans(const rapidjson::Value& node, std::vector<std::string>* tables) {
  if (node.IsObject()) {
    const auto type = node.FindMember("Node Type");
    const auto relation = node.FindMember("Relation Name");
    if (type != node.MemberEnd() && relation != node.MemberEnd() &&
        std::string(type->value.GetString()) == "Seq Scan") {
      tables->push_back(relation->value.GetString());
    }
    for (const auto& member : node.GetObject()) SeqScans(member.value, tables);
  } else if (node.IsArray()) {
    for (const auto& item : node.GetArray()) SeqScans(item, tables);
  }
}

// The big tables `sql` scans sequentially for `workflow`.
std::vector<std::string> ScannedBigTables(Connection* db, const StoreStatement& s,
                                          const std::string& workflow) {
  std::vector<std::string> params = Parameters().at(s.name);
  for (std::string& p : params) {
    if (p == "W") p = workflow;
  }
  const std::string plan = db->Run(std::string("EXPLAIN (FORMAT JSON) ") + s.sql, params);
  rapidjson::Document doc;
  const auto parsed = taskmaster::ParseJson(plan, "plan", &doc);
  BOOST_REQUIRE_MESSAGE(parsed.ok(), parsed.ToString());
  std::vector<std::string> all;
  SeqScans(doc, &all);
  std::vector<std::string> big;
  for (const std::string& table : all) {
    if (BigTables().count(table) != 0) big.push_back(table);
  }
  if (!big.empty()) BOOST_TEST_MESSAGE(s.name << " for " << workflow << ":\n" << plan);
  return big;
}

BOOST_AUTO_TEST_SUITE(postgres_plan)

BOOST_AUTO_TEST_CASE(every_statement_is_indexed_at_a_million_tasks) {
  const std::string dsn = NewDatabaseDsn();
  {
    PostgresOptions options;
    options.dsn = dsn;
    auto store = OpenPostgresStore(options);
    BOOST_REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    const auto migrated = (*store)->Migrate();
    BOOST_REQUIRE_MESSAGE(migrated.ok(), migrated.ToString());
  }
  Connection db(dsn);
  LoadWorkflow(&db, kBig, 1000000);
  LoadWorkflow(&db, kSmall, 1000);
  db.Run("ANALYZE");
  BOOST_REQUIRE_EQUAL(
      db.Run("SELECT reltuples > 900000 FROM pg_class WHERE relname = $1", {"task_states"}), "t");
  // The check sees a scan when there is one.
  BOOST_REQUIRE(!ScannedBigTables(
                     &db, {"TaskGroups", "SELECT count(*) FROM task_states WHERE error = $1"}, kBig)
                     .empty());

  const std::vector<StoreStatement> statements = PostgresStatements();
  BOOST_REQUIRE_EQUAL(statements.size(), Parameters().size());
  for (const StoreStatement& s : statements) {
    BOOST_TEST_CONTEXT(s.name) {
      BOOST_REQUIRE_MESSAGE(Parameters().count(s.name) == 1, s.name << " has no parameters here");
      BOOST_TEST(ScannedBigTables(&db, s, kSmall).empty());
      if (WholeWorkflow().count(s.name) == 0) BOOST_TEST(ScannedBigTables(&db, s, kBig).empty());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
