// The maintenance commands after a real workflow on PostgreSQL + Redis:
// `tm-sidecar expire KEY` (the template's onExit) sets a TTL on every Redis key of
// the workflow, and `tm-sidecar gc --older-than D` deletes finished workflows'
// rows and keys past retention while leaving younger ones alone.
#include <boost/test/unit_test.hpp>
#include <cstdlib>

#include "harness.h"

namespace taskmaster::e2e {
namespace {

// Runs tm-sidecar ARGS against the test PostgreSQL + Redis; returns its exit code.
int SidecarCommand(const std::string& args) {
  ShellResult r = Shell(ShellQuote(kSidecarBinary) + " " + args + " --postgres " +
                        ShellQuote(PostgresDsn()) + " --redis " + ShellQuote(RedisUrl()));
  BOOST_TEST_MESSAGE(r.out);
  return r.exit_code;
}

long long Ttl(const std::string& key) {
  return std::atoll(RedisCli("TTL " + ShellQuote(key)).c_str());
}

void RunWorkflow(const TempDir& tmp, const std::string& key) {
  Workflow wf(tmp.path(), key, PostgresStore(/*with_redis=*/true));
  wf.MustInit({"task-1", "task-2"}, 2);
  PodResult shard = wf.Shard(0, Sh(R"(echo '{"checkpoint":{"n":1}}' >&3)"));
  BOOST_REQUIRE_MESSAGE(shard.step == 0 && shard.sidecar == 0, shard.logs);
  PodResult fin = wf.Finalize();
  BOOST_REQUIRE_MESSAGE(fin.step == 0 && fin.sidecar == 0, fin.logs);
}

BOOST_AUTO_TEST_SUITE(maintenance)

BOOST_AUTO_TEST_CASE(expire_sets_a_ttl_on_every_key_of_the_workflow) {
  TempDir tmp;
  const std::string key = UniqueKey("expire");
  RunWorkflow(tmp, key);
  const std::vector<std::string> keys = {"workflow:state:" + key, "checkpoint:workflow:" + key,
                                         "checkpoint:task:" + key + ":task-1",
                                         "checkpoint:task:" + key + ":task-2"};
  for (const auto& k : keys) BOOST_CHECK_MESSAGE(Ttl(k) == -1, k << " has no TTL yet");
  BOOST_REQUIRE_EQUAL(SidecarCommand("expire " + ShellQuote(key) + " --ttl 3600"), 0);
  for (const auto& k : keys) {
    const long long ttl = Ttl(k);
    BOOST_CHECK_MESSAGE(ttl > 0 && ttl <= 3600, k << ": TTL " << ttl);
  }
}

BOOST_AUTO_TEST_CASE(gc_deletes_finished_workflows_past_retention_only) {
  TempDir tmp;
  const std::string key = UniqueKey("gc");
  RunWorkflow(tmp, key);
  const std::string row = "SELECT count(*) FROM workflow_states WHERE workflow_id = '" + key + "'";
  // Finished seconds ago: a one-day retention keeps it.
  BOOST_REQUIRE_EQUAL(SidecarCommand("gc --older-than 1d"), 0);
  BOOST_CHECK_EQUAL(Psql(row), "1\n");
  BOOST_CHECK_EQUAL(RedisCli("EXISTS " + ShellQuote("workflow:state:" + key)), "1\n");
  // Make it look finished two days ago; now it goes, rows and keys.
  Psql("UPDATE workflow_states SET finished_at = now() - interval '2 days' WHERE workflow_id = '" +
       key + "'");
  BOOST_REQUIRE_EQUAL(SidecarCommand("gc --older-than 1d"), 0);
  BOOST_CHECK_EQUAL(Psql(row), "0\n");
  BOOST_CHECK_EQUAL(Psql("SELECT count(*) FROM task_states WHERE workflow_id = '" + key + "'"),
                    "0\n");
  BOOST_CHECK_EQUAL(RedisCli("EXISTS " + ShellQuote("workflow:state:" + key)), "0\n");
  BOOST_CHECK_EQUAL(RedisCli("EXISTS " + ShellQuote("checkpoint:task:" + key + ":task-1")), "0\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
