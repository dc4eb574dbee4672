// kill -9 of a whole `tm-step local` run, process group and all, at moments
// drawn from a seeded generator (TM_TEST_SEED replays a failure): after the
// final rerun the example's outputs equal an uninterrupted run's, and only
// records after a task's last committed checkpoint ran twice.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <random>

#include "example_check.h"
#include "local_harness.h"

namespace taskmaster::local_test {
namespace {

constexpr int kKills = 10;

uint64_t Seed() {
  const char* fixed = std::getenv("TM_TEST_SEED");
  if (fixed != nullptr && *fixed != '\0') return std::strtoull(fixed, nullptr, 10);
  return static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
}

BOOST_AUTO_TEST_SUITE(crash)

BOOST_AUTO_TEST_CASE(kill_9_at_random_moments_loses_nothing) {
  const uint64_t seed = Seed();
  BOOST_TEST_MESSAGE("kill -9 moments from seed " << seed << " (TM_TEST_SEED=" << seed
                                                  << " replays them)");
  std::mt19937_64 rng(seed);
  TempDir dir;
  Example example;  // 4 tasks x 50 records: the 200-record example
  const auto& reference = ReferenceOutputs(example);
  std::vector<std::string> args = {
      "--task-list", JsonList(example.Ids()), "--state-dir", dir / "state", "--batch-size",
      "2",           "--parallelism",         "2",           "--backoff",   "0.05",
      "--sidecar",   kSidecarBinary,          "--"};
  for (const auto& arg : example.Command()) args.push_back(arg);
  const EnvVars env = example.Env(dir / "data");

  int finished_early = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    LocalRun run(args, env, dir.path());
    // A moment either in time (start-up, draining, init: the first 600 ms) or
    // in the work (after 1 to 40 more records).
    const bool by_time = rng() % 3 == 0;
    const int64_t before = RecordsProcessed(dir / "data", example.tasks);
    const auto delay = milliseconds(static_cast<int64_t>(rng() % 600));
    const int64_t records = 1 + static_cast<int64_t>(rng() % 40);
    const auto started = std::chrono::steady_clock::now();
    bool exited = false;
    WaitUntil(
        [&] {
          if (run.Wait(milliseconds(0)).has_value()) return exited = true;
          if (by_time) return std::chrono::steady_clock::now() - started >= delay;
          return RecordsProcessed(dir / "data", example.tasks) >= before + records;
        },
        milliseconds(30000));
    BOOST_TEST_MESSAGE("kill " << kill + 1 << ": "
                               << (by_time ? "after " + std::to_string(delay.count()) + " ms"
                                           : "after " + std::to_string(records) + " records")
                               << (exited ? " (the run had finished)" : ""));
    if (exited) {
      ++finished_early;
      BOOST_CHECK_MESSAGE(*run.Wait(milliseconds(0)) == 0, run.err());
    }
    run.KillAll(milliseconds(10000));
  }
  const Outcome last = RunToEnd(args, env, dir.path(), milliseconds(60000));
  BOOST_REQUIRE_MESSAGE(last.code == 0, "the final rerun: exit " << last.code << "\n" << last.err);
  BOOST_CHECK(ListDir(dir / "state/work").empty());

  const auto outputs = ReadOutputs(dir / "data", example.tasks);
  for (int i = 0; i < example.tasks; ++i) {
    BOOST_CHECK_MESSAGE(outputs[i] == reference[i],
                        "task " << i << "'s output differs from an uninterrupted run's");
  }
  const AuditReport audit = CheckAudit(dir / "data", example);
  for (const auto& problem : audit.problems) BOOST_ERROR(problem);
  BOOST_TEST_MESSAGE(audit.runs << " task runs; " << audit.repeated
                                << " records processed again after a kill; " << finished_early
                                << " runs finished before their kill");
  // The default state key, "local-" and the list hash, as the summary names it.
  const size_t at = last.out.find("Workflow local-");
  BOOST_REQUIRE(at != std::string::npos);
  const std::string key = last.out.substr(at + 9, last.out.find(' ', at + 9) - at - 9);
  const Outcome status = Shell(std::string(kSidecarBinary) +
                               " status --store sqlite:" + dir.path() + "/state/state.db " + key);
  BOOST_CHECK_MESSAGE(
      Contains(status.out, "\"status\":\"succeeded\"") && Contains(status.out, "\"succeeded\":4"),
      status.out);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::local_test
