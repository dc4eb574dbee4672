// Store outages mid-run (issue 4): Redis restarted empty is refilled to match
// PostgreSQL (and `tm-sidecar rebuild-cache` does it by hand); PostgreSQL
// stopped for a while turns /readyz and store_up down, and every record lands
// once it is back. The services are those of scripts/test-services.sh, which
// these tests restart (the suite runs alone: RUN_SERIAL).
#include <boost/test/unit_test.hpp>

#include "harness.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {
namespace {

namespace pr = protocol;

ShellResult Services(const std::string& command) {
  RequireEnv("TM_SERVICES_DIR");
  return Shell(ShellQuote(kServicesScript) + " " + command);
}

// Whether the sidecar's /readyz answers `status` within 15 s.
bool ReadyzAnswers(uint16_t port, int status) {
  return WaitUntil(
      [&] {
        auto r = HttpGet(port, "/readyz");
        return r && r->status == status;
      },
      milliseconds(15000));
}

// Starts PostgreSQL again however the test ends.
class PostgresOutage {
 public:
  PostgresOutage() {
    RequireEnv("TM_TEST_PG_PORT");
    ShellResult r = Services("stop-postgres");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "stop-postgres: " << r.out);
    down_ = true;
  }
  void End() {
    if (!down_) return;
    down_ = false;
    ShellResult r = Services("start-postgres");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "start-postgres: " << r.out);
  }
  ~PostgresOutage() {
    if (down_) Services("start-postgres");
  }

 private:
  bool down_ = false;
};

// Redis holds what PostgreSQL holds: the workflow state (as `tm-sidecar status`
// reads it from PostgreSQL) and every task's checkpoint document, byte for byte.
void CheckRedisMatchesPostgres(const std::string& key, const std::vector<std::string>& ids) {
  rapidjson::Document cached, stored;
  const std::string cached_text = RedisCli("GET " + ShellQuote("workflow:state:" + key));
  ShellResult status = Shell(std::string(kSidecarBinary) + " status --postgres " +
                                 ShellQuote(PostgresDsn()) + " " + ShellQuote(key),
                             true);
  BOOST_REQUIRE_EQUAL(status.exit_code, 0);
  BOOST_REQUIRE_MESSAGE(ParseJson(cached_text, "redis", &cached).ok() && cached.IsObject(),
                        "workflow:state:" << key << " = '" << cached_text << "'");
  BOOST_REQUIRE(ParseJson(status.out, "status", &stored).ok() && stored.IsObject());
  for (const auto& member : cached.GetObject()) {
    const std::string name = member.name.GetString();
    BOOST_REQUIRE_MESSAGE(stored.HasMember(name.c_str()), "status has no " << name);
    BOOST_CHECK_MESSAGE(member.value == stored[name.c_str()],
                        name << ": redis " << cached_text << " vs postgres " << status.out);
  }
  for (const std::string& id : ids) {
    const std::string document = Psql("SELECT document FROM checkpoints WHERE workflow_id = '" +
                                      key + "' AND task_id = '" + id + "'");
    BOOST_CHECK_MESSAGE(!document.empty(), id << " has no checkpoint in PostgreSQL");
    BOOST_CHECK_EQUAL(RedisCli("GET " + ShellQuote("checkpoint:task:" + key + ":" + id)), document);
  }
}

BOOST_AUTO_TEST_SUITE(outage)

BOOST_AUTO_TEST_CASE(redis_restarted_empty_mid_run_is_refilled_and_rebuild_cache_refills_it) {
  TempDir tmp;
  const std::string key = UniqueKey("redis-restart");
  Workflow wf(tmp.path(), key, PostgresStore(/*with_redis=*/true));
  const std::vector<std::string> ids = TaskIds("t", 4);
  wf.MustInit(ids, 4);

  PodSpec spec = wf.Spec("shard");
  spec.env["REACHED"] = tmp / "reached";
  spec.env["GATE"] = tmp / "gate";
  Pod pod(wf.NewPodDir("shard"), spec);
  pod.StartSidecar();
  pod.StartStep({"run"}, Sh(R"(
printf '{"checkpoint":{"task":%d}}\n' "$TM_TASK_INDEX" >&3
if [ "$TM_TASK_INDEX" = 2 ]; then
  : > "$REACHED"
  while [ ! -e "$GATE" ]; do sleep 0.01; done
  printf '{"checkpoint":{"task":%d,"after":"restart"}}\n' "$TM_TASK_INDEX" >&3
fi)"));
  // The first tasks' checkpoints reached Redis; then Redis comes back empty.
  BOOST_REQUIRE_MESSAGE(
      WaitUntil(
          [&] {
            return FileExists(tmp / "reached") &&
                   RedisCli("EXISTS " + ShellQuote("checkpoint:task:" + key + ":t-3")) == "1\n";
          },
          milliseconds(20000)),
      pod.Logs());
  ShellResult restarted = Services("restart-redis");
  BOOST_REQUIRE_MESSAGE(restarted.exit_code == 0, "restart-redis: " << restarted.out);
  BOOST_REQUIRE_EQUAL(RedisCli("EXISTS " + ShellQuote("checkpoint:task:" + key + ":t-1")), "0\n");
  WriteFile(tmp / "gate", "");
  BOOST_REQUIRE_MESSAGE(pod.WaitStep() == 0, pod.Logs());
  BOOST_REQUIRE_EQUAL(pod.StopSidecar(), 0);
  CheckRedisMatchesPostgres(key, ids);

  // By hand: rebuild-cache after everything is gone.
  RedisCli("FLUSHALL");
  BOOST_REQUIRE_EQUAL(RedisCli("EXISTS " + ShellQuote("workflow:state:" + key)), "0\n");
  ShellResult rebuilt =
      Shell(std::string(kSidecarBinary) + " rebuild-cache --postgres " + ShellQuote(PostgresDsn()) +
            " --redis " + ShellQuote(RedisUrl()) + " " + ShellQuote(key));
  BOOST_REQUIRE_MESSAGE(rebuilt.exit_code == 0, rebuilt.out);
  CheckRedisMatchesPostgres(key, ids);
  const std::string file = tmp / "workflow-checkpoint.json";
  ShellResult verify = Shell("redis-cli -u " + ShellQuote(RedisUrl()) + " GET " +
                             ShellQuote("checkpoint:workflow:" + key) + " > " + ShellQuote(file) +
                             " && " + kStepBinary + " checkpoint verify " + ShellQuote(file));
  BOOST_CHECK_MESSAGE(verify.exit_code == 0, verify.out);
}

BOOST_AUTO_TEST_CASE(postgres_down_mid_flush_reports_not_ready_and_lands_everything_when_back) {
  TempDir tmp;
  const std::string key = UniqueKey("pg-outage");
  Workflow wf(tmp.path(), key, PostgresStore(/*with_redis=*/false));
  wf.MustInit({"t-1"}, 1);

  PodSpec spec = wf.Spec("shard");
  spec.env["GATE"] = tmp / "gate";
  Pod pod(wf.NewPodDir("shard"), spec);
  pod.StartSidecar();
  // A record every 10 ms until the gate opens, so flushes keep coming.
  pod.StartStep({"run"}, Sh(R"(i=0
while [ ! -e "$GATE" ]; do
  i=$((i+1)); printf '{"progress":{"done":%d,"total":1000000}}\n' $i >&3; sleep 0.01
done
printf '{"checkpoint":{"emitted":%d}}\n' $i >&3)"));
  const uint16_t port = pod.Port();
  BOOST_REQUIRE_MESSAGE(WaitUntil([&] { return pod.AckedSeq() >= 3; }, milliseconds(20000)),
                        pod.Logs());
  auto ready = HttpGet(port, "/readyz");
  BOOST_REQUIRE(ready.has_value());
  BOOST_CHECK_EQUAL(ready->status, 200);

  {
    PostgresOutage outage;
    // Down: not ready, store_up 0.
    BOOST_CHECK_MESSAGE(ReadyzAnswers(port, 503),
                        "/readyz never turned 503 while PostgreSQL was down\n"
                            << pod.Logs());
    // Down for a while: the sidecar keeps retrying with backoff, and says so.
    std::string metrics;
    BOOST_CHECK_MESSAGE(WaitUntil(
                            [&] {
                              auto r = HttpGet(port, "/metrics");
                              if (r) metrics = r->body;
                              return MetricSum(metrics, "store_errors_total{store=\"postgres\"") >=
                                     3;
                            },
                            milliseconds(15000)),
                        "fewer than 3 failed flushes while PostgreSQL was down:\n"
                            << metrics);
    BOOST_CHECK_EQUAL(MetricValue(metrics, "store_up{store=\"postgres\"}").value_or(-1), 0);
    auto still = HttpGet(port, "/readyz");
    BOOST_CHECK(still && still->status == 503);
    // A flush failed by now, so the last one that succeeded has written its ack.
    const int64_t acked_when_down = pod.AckedSeq();
    // Records keep coming and wait in the journal; nothing more is acknowledged.
    BOOST_CHECK(WaitUntil(
        [&] { return ReadJournal(pod.work(pr::kJournalFile)).max_seq > acked_when_down + 20; },
        milliseconds(10000)));
    BOOST_CHECK_EQUAL(pod.AckedSeq(), acked_when_down);
    outage.End();
  }
  // Back: ready again, and everything lands.
  BOOST_CHECK_MESSAGE(ReadyzAnswers(port, 200), "/readyz never came back to 200\n" << pod.Logs());
  WriteFile(tmp / "gate", "");
  BOOST_REQUIRE_MESSAGE(pod.WaitStep() == 0, pod.Logs());
  auto metrics = HttpGet(port, "/metrics");
  BOOST_REQUIRE(metrics.has_value());
  BOOST_CHECK_EQUAL(MetricValue(metrics->body, "store_up{store=\"postgres\"}").value_or(-1), 1);
  BOOST_REQUIRE_EQUAL(pod.StopSidecar(), 0);

  const JournalSummary journal = ReadJournal(pod.work(pr::kJournalFile));
  BOOST_CHECK_EQUAL(Psql("SELECT fence, seq FROM fences WHERE workflow_id = '" + key +
                         "' AND role = 'shard' AND shard = 0"),
                    "1|" + std::to_string(journal.max_seq) + "\n");
  // The last progress record is the number the task emitted, and so is its checkpoint.
  const std::string row = Psql(
      "SELECT status, progress_done, generation FROM task_states WHERE "
      "workflow_id = '" +
      key + "'");
  const std::string document =
      Psql("SELECT document FROM checkpoints WHERE workflow_id = '" + key + "'");
  const size_t at = document.find("\"emitted\":");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, document);
  const std::string emitted = document.substr(at + 10, document.find('}', at) - at - 10);
  BOOST_CHECK_EQUAL(row, "succeeded|" + emitted + "|1\n");
}

BOOST_AUTO_TEST_CASE(a_redis_that_is_down_costs_freshness_never_acks) {
  TempDir tmp;
  StoreSpec store = SqliteStore(tmp / "state.db");
  // Port 1 on loopback: nothing listens there.
  store.flags.insert(store.flags.end(), {"--redis", "redis://127.0.0.1:1/0"});
  Workflow wf(tmp.path(), UniqueKey("no-redis"), store);
  wf.MustInit({"t-1"}, 1);

  Pod pod(wf.NewPodDir("shard"), wf.Spec("shard"));
  pod.StartSidecar();
  const uint16_t port = pod.Port();
  pod.StartStep({"run"}, Sh(R"(i=0; while [ $i -lt 2000 ]; do i=$((i+1))
  printf '{"checkpoint":{"i":%d}}\n' $i; done >&3)"));
  BOOST_REQUIRE_MESSAGE(pod.WaitStep() == 0, pod.Logs());
  auto metrics = HttpGet(port, "/metrics");
  BOOST_REQUIRE(metrics.has_value());
  BOOST_CHECK_EQUAL(MetricValue(metrics->body, "store_up{store=\"redis\"}").value_or(-1), 0);
  BOOST_CHECK_EQUAL(MetricValue(metrics->body, "store_up{store=\"sqlite\"}").value_or(-1), 1);
  BOOST_CHECK_GE(MetricSum(metrics->body, "store_errors_total{store=\"redis\""), 1);
  // Degraded, not failed: ready, because readiness is about the durable store.
  auto ready = HttpGet(port, "/readyz");
  BOOST_CHECK(ready && ready->status == 200);
  BOOST_CHECK_EQUAL(pod.StopSidecar(), 0);
  BOOST_CHECK_EQUAL(
      Sqlite(tmp / "state.db",
             "SELECT generation FROM checkpoints WHERE workflow_id = '" + wf.key() + "'"),
      "2000\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
