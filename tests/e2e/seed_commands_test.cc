// The seed's redis-cli and psql commands are user contract (DESIGN.md, the seed
// beside it): after a whole workflow against PostgreSQL and Redis they work as
// written, with only the connection flags added.
#include <boost/test/unit_test.hpp>

#include "harness.h"
#include "taskmaster/json.h"

namespace taskmaster::e2e {
namespace {

BOOST_AUTO_TEST_SUITE(seed_commands)

BOOST_AUTO_TEST_CASE(work_verbatim_after_a_run_against_postgres_and_redis) {
  TempDir tmp;
  const std::string key = UniqueKey("seed");
  Workflow wf(tmp.path(), key, PostgresStore(/*with_redis=*/true));
  const std::vector<std::string> ids = {"task-1", "task-2", "task-3"};

  wf.MustInit(ids, 1);
  for (int64_t shard = 0; shard < 3; ++shard) {
    PodResult r = wf.Shard(
        shard, Sh(R"(printf '{"checkpoint":{"task":"%s","rows":42}}\n' "$TM_TASK_ID" >&3)"));
    BOOST_REQUIRE_MESSAGE(r.step == 0 && r.sidecar == 0, r.logs);
  }
  PodResult fin = wf.Finalize();
  BOOST_REQUIRE_MESSAGE(fin.step == 0 && fin.sidecar == 0, fin.logs);

  const std::string redis_cli = "redis-cli -u " + ShellQuote(RedisUrl());
  const std::string psql = "psql " + ShellQuote(PostgresDsn());

  // redis-cli GET workflow:state:uuid-123
  ShellResult state = Shell(redis_cli + " GET workflow:state:" + key, true);
  BOOST_REQUIRE_EQUAL(state.exit_code, 0);
  rapidjson::Document doc;
  BOOST_REQUIRE_MESSAGE(ParseJson(state.out, "workflow:state", &doc).ok(), state.out);
  BOOST_REQUIRE(doc.IsObject() && doc.HasMember("workflow_id") && doc.HasMember("status"));
  BOOST_CHECK_EQUAL(doc["workflow_id"].GetString(), key);
  BOOST_CHECK_EQUAL(doc["status"].GetString(), std::string("succeeded"));
  BOOST_CHECK_EQUAL(doc["total"].GetInt64(), 3);
  BOOST_CHECK_EQUAL(doc["succeeded"].GetInt64(), 3);

  // redis-cli KEYS workflow:state:*
  ShellResult keys = Shell(redis_cli + " KEYS 'workflow:state:*'", true);
  BOOST_CHECK_EQUAL(keys.exit_code, 0);
  BOOST_CHECK_MESSAGE(("\n" + keys.out).find("\nworkflow:state:" + key + "\n") != std::string::npos,
                      keys.out);

  // \d workflow_states
  ShellResult table = Shell(psql + " -c '\\d workflow_states'");
  BOOST_CHECK_EQUAL(table.exit_code, 0);
  BOOST_CHECK_MESSAGE(table.out.find("updated_at") != std::string::npos, table.out);

  // SELECT * FROM workflow_states WHERE workflow_id = 'uuid-123';
  ShellResult row =
      Shell(psql + " -c \"SELECT * FROM workflow_states WHERE workflow_id = '" + key + "';\"");
  BOOST_CHECK_EQUAL(row.exit_code, 0);
  BOOST_CHECK_MESSAGE(row.out.find(key) != std::string::npos, row.out);
  BOOST_CHECK_MESSAGE(row.out.find("succeeded") != std::string::npos, row.out);
  BOOST_CHECK_MESSAGE(row.out.find("(1 row)") != std::string::npos, row.out);

  // psql -d taskmaster -c "SELECT * FROM workflow_states WHERE updated_at > NOW() - INTERVAL '1
  // hour';"
  ShellResult recent = Shell(
      psql + " -c \"SELECT * FROM workflow_states WHERE updated_at > NOW() - INTERVAL '1 hour';\"");
  BOOST_CHECK_EQUAL(recent.exit_code, 0);
  BOOST_CHECK_MESSAGE(recent.out.find(key) != std::string::npos, recent.out);

  // redis-cli GET checkpoint:workflow:uuid-123 | jq '.'
  ShellResult summary = Shell(redis_cli + " GET checkpoint:workflow:" + key + " | jq '.'", true);
  BOOST_CHECK_EQUAL(summary.exit_code, 0);
  BOOST_CHECK_MESSAGE(summary.out.find("\"checksum\"") != std::string::npos &&
                          summary.out.find(key) != std::string::npos,
                      summary.out);

  // The exact stored bytes of every task's checkpoint verify, and say what the task wrote.
  for (const std::string& id : ids) {
    const std::string file = tmp / ("ck-" + id + ".json");
    ShellResult verify =
        Shell(redis_cli + " GET checkpoint:task:" + key + ":" + id + " > " + ShellQuote(file) +
              " && " + kStepBinary + " checkpoint verify " + ShellQuote(file));
    BOOST_CHECK_MESSAGE(verify.exit_code == 0, id << ": " << verify.out);
    ShellResult show = Shell(std::string(kStepBinary) + " checkpoint show " + ShellQuote(file));
    BOOST_CHECK_EQUAL(show.out, "{\"task\":\"" + id + "\",\"rows\":42}\n");
  }
  const std::string file = tmp / "ck-workflow.json";
  ShellResult verify =
      Shell(redis_cli + " GET checkpoint:workflow:" + key + " > " + ShellQuote(file) + " && " +
            kStepBinary + " checkpoint verify " + ShellQuote(file));
  BOOST_CHECK_MESSAGE(verify.exit_code == 0, verify.out);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
