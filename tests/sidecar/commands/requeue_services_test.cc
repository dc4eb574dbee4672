// `tm-sidecar requeue` on PostgreSQL with --redis: the store's write, then the
// workflow's Redis keys refilled from it; --dry-run writes neither. The
// PostgreSQL and Redis of scripts/test-services.sh (TM_TEST_POSTGRES_DSN,
// TM_TEST_REDIS_URL); a workflow key of its own in the shared database.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <string>

#include "../cache/redis_fixtures.h"
#include "../store/store_conformance.h"
#include "run_main.h"
#include "store/store_factory.h"
#include "support/services.h"

namespace taskmaster::sidecar {
namespace {

BOOST_AUTO_TEST_SUITE(requeue_services)

BOOST_AUTO_TEST_CASE(requeue_on_postgres_refills_redis) {
  const std::string dsn = test_support::RequireServiceEnv("TM_TEST_POSTGRES_DSN");
  const std::string redis_url = test_support::RequireServiceEnv("TM_TEST_REDIS_URL");
  std::unique_ptr<StateStore> store =
      conformance::Must(OpenStore(conformance::Must(ParseStoreConfig(dsn), "dsn")), "open");
  BOOST_REQUIRE(store->Migrate().ok());
  const std::string key = test_support::UniqueKey("requeue");
  conformance::FailedWorkflow(*store, key);
  RawRedis redis(TestRedisConfig());
  const std::string state_key = "workflow:state:" + key;

  MainRun r = RunMain({"requeue", key, "--dry-run", "--postgres", dsn, "--redis", redis_url});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK(r.out.find("2 tasks would become pending") != std::string::npos);
  BOOST_CHECK(!redis.Get(state_key).has_value());
  BOOST_CHECK_EQUAL(ToString(conformance::Must(store->LoadWorkflowState(key), "state").status),
                    "failed");

  r = RunMain({"requeue", key, "--postgres", dsn, "--redis", redis_url});
  BOOST_CHECK_MESSAGE(r.code == 0, r.err);
  const WorkflowState after = conformance::Must(store->LoadWorkflowState(key), "state");
  BOOST_CHECK_EQUAL(ToString(after.status), "running");
  BOOST_CHECK_EQUAL(after.counts.pending, 2);
  const std::optional<std::string> cached = redis.Get(state_key);
  BOOST_REQUIRE(cached.has_value());
  BOOST_CHECK_MESSAGE(cached->find(R"("status":"running")") != std::string::npos, *cached);
  BOOST_CHECK_MESSAGE(cached->find(R"("failed":0,"running":0,"pending":2)") != std::string::npos,
                      *cached);
  r = RunMain({"export-failed", key, "--postgres", dsn});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK_EQUAL(r.out, "");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
