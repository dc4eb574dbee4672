// tm-step local against the real PostgreSQL and Redis that
// scripts/test-services.sh starts (TM_TEST_POSTGRES_DSN, TM_TEST_REDIS_URL):
// the example end to end, killed once with kill -9 and resumed.
#include <boost/test/unit_test.hpp>

#include "example_check.h"
#include "local_harness.h"

namespace taskmaster::local_test {
namespace {

BOOST_AUTO_TEST_SUITE(postgres)

BOOST_AUTO_TEST_CASE(example_end_to_end_with_a_crash_on_postgres_and_redis) {
  const std::string dsn = RequireServiceEnv("TM_TEST_POSTGRES_DSN");
  const std::string redis = RequireServiceEnv("TM_TEST_REDIS_URL");
  // The services outlive one test run: a key of our own, so nothing is resumed by accident.
  const std::string key = UniqueKey("local-pg");
  TempDir dir;
  Example example;
  example.records = 30;
  const auto& reference = ReferenceOutputs(example);
  std::vector<std::string> args = {"--task-list",
                                   JsonList(example.Ids()),
                                   "--state-dir",
                                   dir / "state",
                                   "--state-key",
                                   key,
                                   "--batch-size",
                                   "2",
                                   "--postgres",
                                   dsn,
                                   "--redis",
                                   redis,
                                   "--sidecar",
                                   kSidecarBinary,
                                   "--"};
  for (const auto& arg : example.Command()) args.push_back(arg);
  const EnvVars env = example.Env(dir / "data");
  {
    LocalRun run(args, env, dir.path());
    BOOST_REQUIRE_MESSAGE(
        WaitUntil([&] { return RecordsProcessed(dir / "data", example.tasks) >= 20; },
                  milliseconds(30000)),
        "the example never got going:\n"
            << run.err());
    run.KillAll(milliseconds(10000));
  }
  BOOST_CHECK(!FileExists(dir / "state/state.db"));  // PostgreSQL holds the state
  const Outcome rerun = RunToEnd(args, env, dir.path(), milliseconds(60000));
  BOOST_TEST_MESSAGE(rerun.out);
  BOOST_REQUIRE_MESSAGE(rerun.code == 0, "exit " << rerun.code << "\n" << rerun.err);
  BOOST_CHECK(ReadOutputs(dir / "data", example.tasks) == reference);
  const AuditReport audit = CheckAudit(dir / "data", example);
  for (const auto& problem : audit.problems) BOOST_ERROR(problem);

  const Outcome status =
      Shell("TM_POSTGRES_DSN='" + dsn + "' " + kSidecarBinary + " status " + key + " 2>&1");
  BOOST_CHECK_MESSAGE(
      Contains(status.out, "\"status\":\"succeeded\"") && Contains(status.out, "\"succeeded\":4"),
      status.out);
  // The seed's own views of the state: the row in PostgreSQL, the key in Redis.
  const Outcome row = Shell("psql '" + dsn +
                            "' -tAc \"SELECT status FROM workflow_states WHERE "
                            "workflow_id = '" +
                            key + "'\" 2>&1");
  BOOST_CHECK_MESSAGE(Contains(row.out, "succeeded"), row.out);
  const Outcome cached =
      Shell("redis-cli -u '" + redis + "' GET 'workflow:state:" + key + "' 2>&1");
  BOOST_CHECK_MESSAGE(Contains(cached.out, "\"status\":\"succeeded\""), cached.out);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::local_test
