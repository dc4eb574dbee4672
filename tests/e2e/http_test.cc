// The sidecar's HTTP endpoints (DESIGN.md §7, §9): /healthz, /readyz, and a
// /metrics that `promtool check metrics` accepts and that carries every metric
// name the design settles.
#include <boost/test/unit_test.hpp>

#include "harness.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {
namespace {

BOOST_AUTO_TEST_SUITE(http)

BOOST_AUTO_TEST_CASE(healthz_readyz_and_metrics_that_promtool_accepts) {
  TempDir tmp;
  Workflow wf(tmp.path(), UniqueKey("http"), SqliteStore(tmp / "state.db"));
  wf.MustInit({"t-1", "t-2"}, 2);

  Pod pod(wf.NewPodDir("shard"), wf.Spec("shard"));
  pod.StartSidecar();
  const uint16_t port = pod.Port();
  auto health = HttpGet(port, "/healthz");
  BOOST_REQUIRE(health.has_value());
  BOOST_CHECK_EQUAL(health->status, 200);
  pod.WaitReady();
  BOOST_CHECK(WaitUntil(
      [&] {
        auto r = HttpGet(port, "/readyz");
        return r && r->status == 200 && r->body.find("\"ready\":true") != std::string::npos;
      },
      milliseconds(5000)));
  auto missing = HttpGet(port, "/nope");
  BOOST_REQUIRE(missing.has_value());
  BOOST_CHECK_EQUAL(missing->status, 404);

  pod.StartStep({"run"},
                Sh(R"(printf '{"checkpoint":{"n":1}}\n{"progress":{"done":1,"total":1}}\n' >&3
[ "$TM_TASK_INDEX" = 0 ])"));
  BOOST_CHECK_EQUAL(pod.WaitStep(),
                    protocol::kExitFailedForGood);  // t-2 failed on its only attempt
  // Scraped after the commit is durable: every family has samples now.
  auto metrics = HttpGet(port, "/metrics");
  BOOST_REQUIRE(metrics.has_value());
  BOOST_CHECK_EQUAL(metrics->status, 200);
  BOOST_CHECK_EQUAL(pod.StopSidecar(), 0);

  const std::string body = metrics->body;
  WriteFile(tmp / "metrics.txt", body);
  ShellResult promtool = Shell(
      "command -v promtool >/dev/null || "
      "{ echo 'promtool not found: run scripts/bootstrap.sh'; exit 127; }; "
      "promtool check metrics < " +
      ShellQuote(tmp / "metrics.txt"));
  BOOST_CHECK_MESSAGE(promtool.exit_code == 0, "promtool check metrics: " << promtool.out << "\n"
                                                                          << body);

  for (const char* name :
       {"workflow_duration_seconds", "checkpoint_operations_total", "task_duration_seconds",
        "tasks_total", "flush_duration_seconds", "flush_batch_records", "journal_lag_bytes",
        "fence_rejections_total", "store_errors_total", "store_up", "workflow_tasks",
        "workflow_last_progress_timestamp_seconds"}) {
    BOOST_CHECK_MESSAGE(body.find(std::string("# TYPE ") + name + " ") != std::string::npos,
                        name << " is not exported:\n"
                             << body);
  }
  BOOST_CHECK_EQUAL(MetricValue(body, "store_up{store=\"sqlite\"}").value_or(-1), 1);
  const std::string workflow = "workflow=\"" + wf.key() + "\"";
  BOOST_CHECK_EQUAL(
      MetricValue(body, "tasks_total{" + workflow + ",status=\"succeeded\"}").value_or(-1), 1);
  BOOST_CHECK_EQUAL(
      MetricValue(body, "tasks_total{" + workflow + ",status=\"failed\"}").value_or(-1), 1);
  BOOST_CHECK_EQUAL(
      MetricValue(body, "checkpoint_operations_total{operation=\"save\",status=\"ok\"}")
          .value_or(-1),
      2);
  BOOST_CHECK_EQUAL(MetricValue(body, "fence_rejections_total").value_or(-1), 0);
  BOOST_CHECK_EQUAL(MetricValue(body, "journal_lag_bytes").value_or(-1), 0);
  BOOST_CHECK(body.find("workflow_duration_seconds_count{workflow_type=\"multi-task\",") !=
              std::string::npos);
  BOOST_CHECK(body.find("task_duration_seconds_bucket{" + workflow +
                        ",status=\"succeeded\",le=\"+Inf\"} 1") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
