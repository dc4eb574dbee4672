// dashboards/ against a real sidecar: a shard pod runs a workflow through
// tm-sidecar, its /metrics is scraped while a task runs (the stalled alert's
// input) and after the commit, and every series and label the alert rules and the Grafana dashboard
// select must be in that scrape (tests/dashboards/check_queries.py), so neither can drift from what
// the sidecar exports.
#include <boost/test/unit_test.hpp>
#include <ctime>

#include "harness.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {
namespace {

const std::string kSourceDir = TM_SOURCE_DIR;

// check_queries.py --metrics on a scrape, with extra expressions.
ShellResult CheckQueries(const std::string& scrape, const std::vector<std::string>& extra = {}) {
  std::string command =
      "/usr/bin/python3 " + ShellQuote(kSourceDir + "/tests/dashboards/check_queries.py") +
      " --rules " + ShellQuote(kSourceDir + "/dashboards/alerts.yml") + " --dashboard " +
      ShellQuote(kSourceDir + "/dashboards/taskmaster.json") + " --metrics " + ShellQuote(scrape);
  for (const std::string& expr : extra) command += " --extra-expr " + ShellQuote(expr);
  return Shell(command);
}

BOOST_AUTO_TEST_SUITE(dashboards)

BOOST_AUTO_TEST_CASE(rules_and_panels_select_only_what_a_real_sidecar_exports) {
  TempDir tmp;
  StoreSpec store = SqliteStore(tmp / "state.db");
  // A Redis nobody answers on (port 1): store_up and store_errors_total then
  // have the redis series the cache alert selects.
  store.flags.insert(store.flags.end(), {"--redis", "redis://127.0.0.1:1/0"});
  Workflow wf(tmp.path(), UniqueKey("dash"), store);
  wf.MustInit({"t-1", "t-2", "t-3"}, 3);
  const double started = static_cast<double>(std::time(nullptr));

  Pod pod(wf.NewPodDir("shard"), wf.Spec("shard"));
  pod.StartSidecar();
  const uint16_t port = pod.Port();
  pod.WaitReady();
  const std::string go = tmp / "go";
  // t-1 checkpoints and waits for the test; t-2 fails on its only attempt;
  // t-3 succeeds.
  // A budget of 70% of 3 tasks: 2 final failures tolerated.
  pod.StartStep({"run", "--max-failures", "1", "--max-failure-percent", "70"},
                Sh("case $TM_TASK_INDEX in\n"
                   "0) printf '{\"checkpoint\":{\"n\":1}}\\n' >&3\n"
                   "   while [ ! -e " +
                   ShellQuote(go) +
                   " ]; do sleep 0.05; done ;;\n"
                   "1) exit 1 ;;\n"
                   "esac"));
  const std::string workflow = "workflow=\"" + wf.key() + "\"";
  auto gauge = [&](const std::string& body, const std::string& series) {
    return MetricValue(body, series).value_or(-1);
  };
  // The stalled alert's inputs while t-1 runs: a task running, nothing done.
  std::string running_scrape;
  BOOST_CHECK_MESSAGE(WaitUntil(
                          [&] {
                            auto r = HttpGet(port, "/metrics");
                            if (!r) return false;
                            running_scrape = r->body;
                            return gauge(running_scrape, "workflow_tasks{" + workflow +
                                                             ",status=\"running\"}") == 1;
                          },
                          milliseconds(10000)),
                      "no running task in /metrics:\n"
                          << running_scrape << pod.Logs());
  WriteFile(go, "");
  BOOST_CHECK_EQUAL(pod.WaitStep(), protocol::kExitFailedForGood);
  auto metrics = HttpGet(port, "/metrics");
  BOOST_REQUIRE(metrics.has_value());
  BOOST_CHECK_EQUAL(pod.StopSidecar(), 0);
  const std::string body = metrics->body;

  BOOST_CHECK_EQUAL(gauge(body, "workflow_tasks{" + workflow + ",status=\"succeeded\"}"), 2);
  BOOST_CHECK_EQUAL(gauge(body, "workflow_tasks{" + workflow + ",status=\"failed\"}"), 1);
  BOOST_CHECK_EQUAL(gauge(body, "workflow_tasks{" + workflow + ",status=\"running\"}"), 0);
  BOOST_CHECK_EQUAL(gauge(body, "workflow_tasks{" + workflow + ",status=\"pending\"}"), 0);
  BOOST_CHECK_EQUAL(gauge(body, "workflow_tasks{" + workflow + ",status=\"cancelled\"}"), 0);
  BOOST_CHECK_EQUAL(gauge(body, "workflow_failures_tolerated{" + workflow + "}"), 2);
  const double progress = gauge(body, "workflow_last_progress_timestamp_seconds{" + workflow + "}");
  BOOST_CHECK_GE(progress, started - 1);
  BOOST_CHECK_LE(progress, static_cast<double>(std::time(nullptr)) + 1);

  const std::string scrape = tmp / "metrics.txt";
  WriteFile(scrape, body);
  ShellResult check = CheckQueries(scrape);
  BOOST_CHECK_MESSAGE(check.exit_code == 0,
                      "the scrape lacks what the rules or the dashboard select:\n"
                          << check.out << "\n"
                          << body);

  // The check could fail: a series, a label, a label value and a grouping
  // label the sidecar does not export are each named.
  ShellResult wrong =
      CheckQueries(scrape, {"taskmaster_tasks_total", "workflow_tasks{phase=\"Running\"}",
                            "workflow_tasks{status=\"stalled\"}", "sum by (pod) (tasks_total)"});
  BOOST_CHECK_EQUAL(wrong.exit_code, 1);
  for (const char* named : {"taskmaster_tasks_total is not exported", "has no label phase",
                            "status=\"stalled\"} is not exported", "has the label pod"}) {
    BOOST_CHECK_MESSAGE(wrong.out.find(named) != std::string::npos, "no \"" << named << "\" in:\n"
                                                                            << wrong.out);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
