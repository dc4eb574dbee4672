// Fencing across attempts (DESIGN.md §4, §9): a zombie attempt — frozen
// mid-shard while a newer attempt ran the shard to completion — has its late
// writes refused and counted, and the store stays as the newer attempt left it.
#include <signal.h>

#include <boost/test/unit_test.hpp>

#include "harness.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {
namespace {

namespace pr = protocol;

// Every row a shard's attempts can touch, in a stable order.
std::string StoreSnapshot(const std::string& db, const std::string& key) {
  const std::string where = " WHERE workflow_id = '" + key + "'";
  return Sqlite(db, "SELECT * FROM workflow_states" + where) +
         Sqlite(db, "SELECT * FROM task_states" + where + " ORDER BY ordinal") +
         Sqlite(db, "SELECT * FROM checkpoints" + where + " ORDER BY task_id") +
         Sqlite(db, "SELECT * FROM fences" + where + " ORDER BY role, shard");
}

BOOST_FIXTURE_TEST_SUITE(fencing, SqliteFixture)

BOOST_AUTO_TEST_CASE(a_zombie_attempt_thawed_after_a_newer_one_finished_changes_nothing) {
  Workflow wf = InitWorkflow("zombie", {"t-1", "t-2"}, 2);

  // Attempt 1 checkpoints t-1, then hangs until the gate opens.
  PodSpec first_spec = wf.Spec("shard");
  first_spec.env = {{"TM_ATTEMPT", "0"},
                    {"TM_LAST_ATTEMPT", "3"},
                    {"TM_BARRIER_TIMEOUT", "2"},
                    {"GATE", tmp / "gate"}};
  Pod first(wf.NewPodDir("shard"), first_spec);
  first.StartSidecar();
  first.StartStep({"run"}, Sh(R"(
printf '{"checkpoint":{"attempt":1,"task":%d}}\n' "$TM_TASK_INDEX" >&3
while [ ! -e "$GATE" ]; do sleep 0.01; done
printf '{"checkpoint":{"attempt":1,"task":%d,"late":true}}\n' "$TM_TASK_INDEX" >&3)"));
  const uint16_t first_port = first.Port();
  // task_start and the checkpoint of t-1 are durable: the attempt is mid-shard.
  BOOST_REQUIRE_MESSAGE(WaitUntil([&] { return first.AckedSeq() >= 2; }, milliseconds(20000)),
                        first.Logs());
  first.sidecar().Signal(SIGSTOP);
  first.step().Signal(SIGSTOP);

  // Argo gave up on it; attempt 2, a new pod, runs the shard to completion.
  PodSpec second_spec = wf.Spec("shard");
  second_spec.env = {{"TM_ATTEMPT", "1"}, {"TM_LAST_ATTEMPT", "3"}};
  PodResult second = RunPod(wf.NewPodDir("shard"), second_spec, {"run"},
                            Sh(R"(printf '{"checkpoint":{"attempt":2}}\n' >&3)"));
  BOOST_REQUIRE_MESSAGE(second.step == 0 && second.sidecar == 0, second.logs);
  const std::string after_second = StoreSnapshot(db, wf.key());
  BOOST_REQUIRE(after_second.find("|succeeded|") != std::string::npos);

  // The zombie thaws and goes on: its sidecar's writes are refused.
  WriteFile(tmp / "gate", "");
  first.step().Signal(SIGCONT);
  first.sidecar().Signal(SIGCONT);
  std::string metrics;
  BOOST_CHECK_MESSAGE(WaitUntil(
                          [&] {
                            auto r = HttpGet(first_port, "/metrics");
                            if (!r || r->status != 200) return false;
                            metrics = r->body;
                            return MetricValue(metrics, "fence_rejections_total").value_or(0) > 0;
                          },
                          milliseconds(20000)),
                      "no fence rejection counted:\n"
                          << metrics << first.Logs());
  // Its step never hears an ack: barrier timeout, outputs marked not durable.
  BOOST_CHECK_EQUAL(first.WaitStep(), pr::kExitNotDurable);
  BOOST_CHECK(FileExists(first.work("outputs/barrier-timeout")));
  BOOST_CHECK(ReadFile(first.work("outputs/summary")).find("\"durable\":false") !=
              std::string::npos);
  auto last = HttpGet(first_port, "/metrics");
  BOOST_REQUIRE(last.has_value());
  BOOST_TEST_MESSAGE("zombie fence_rejections_total "
                     << MetricValue(last->body, "fence_rejections_total").value_or(-1));
  BOOST_CHECK_EQUAL(first.StopSidecar(), 0);

  BOOST_CHECK_EQUAL(StoreSnapshot(db, wf.key()), after_second);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
