// --max-shards and --parallelism of tm-step init (and tm-sidecar submit's
// --max-shards) on real stores (SQLite, and PostgreSQL + Redis): a new
// workflow's batch size is raised to fit the cap and recorded; its pending
// shards are dealt over the lanes; a resume keeps the recorded shards whatever
// --max-shards says then, and deals only the shards that still have work.
#include <rapidjson/document.h>

#include <boost/test/unit_test.hpp>
#include <iterator>
#include <string>
#include <vector>

#include "harness.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {
namespace {

namespace pr = protocol;

struct InitRun {
  PodResult pod;
  std::string dir;
  std::string Output(const char* name) const {
    return ReadFile(dir + "/work/" + pr::kOutputsDir + "/" + name);
  }
};

InitRun RunInit(Workflow& wf, const std::vector<std::string>& ids,
                const std::vector<std::string>& flags) {
  InitRun run;
  run.dir = wf.NewPodDir("init");
  std::vector<std::string> args = {"init", "--task-list", TaskListJson(ids)};
  args.insert(args.end(), flags.begin(), flags.end());
  run.pod = RunPod(run.dir, wf.Spec("init"), args);
  BOOST_REQUIRE_MESSAGE(run.pod.step == 0 && run.pod.sidecar == 0, run.pod.logs);
  return run;
}

// init's outputs about the shards, each without the "\n" the file ends with:
// batch-size, shards, lanes, lane-plan, lane-width.
void CheckShardOutputs(const InitRun& run, const std::vector<std::string>& want) {
  const char* names[] = {pr::kOutBatchSize, pr::kOutShards, pr::kOutLanes, pr::kOutLanePlan,
                         pr::kOutLaneWidth};
  BOOST_REQUIRE_EQUAL(want.size(), std::size(names));
  for (size_t i = 0; i < want.size(); ++i) {
    BOOST_TEST_CONTEXT(names[i]) {
      BOOST_CHECK_EQUAL(run.Output(names[i]), want[i] + "\n");
    }
  }
}

void CheckResumeKeepsTheShards(const StoreSpec& store, const std::string& key) {
  TempDir tmp;
  Workflow wf(tmp.path(), key, store);
  const std::vector<std::string> ids = TaskIds("t", 10);

  // 10 tasks at most 3 shards: batch 4, shards [0,4) [4,8) [8,10).
  InitRun first = RunInit(wf, ids, {"--max-shards", "3", "--parallelism", "2"});
  BOOST_CHECK_MESSAGE(first.pod.logs.find("raising the batch size from 1 to 4 so that 10 tasks "
                                          "fit in 3 shards (--max-shards 3)") != std::string::npos,
                      first.pod.logs);
  CheckShardOutputs(first, {"4", "[0,1,2]", "[0,1]", "[0,2][1]  ", "5"});

  // Shard 1 runs the 4 tasks [4, 8): the stored shards have batch 4.
  PodResult shard = wf.Shard(1, Sh("exit 0"));
  BOOST_REQUIRE_MESSAGE(shard.step == 0, shard.logs);

  // A resume with another cap (10 shards would mean batch 1) keeps batch 4 and
  // deals the two shards left over one lane each.
  InitRun again = RunInit(wf, ids, {"--max-shards", "10"});
  BOOST_CHECK_MESSAGE(
      again.pod.logs.find("keeping the recorded batch size 4 (3 shards); "
                          "--max-shards 10 applies to new workflows only") != std::string::npos,
      again.pod.logs);
  CheckShardOutputs(again, {"4", "[0,2]", "[0,1]", "[0][2]", "3"});
  rapidjson::Document summary;
  summary.Parse(again.Output(pr::kOutSummary).c_str());
  BOOST_REQUIRE(summary.IsObject());
  BOOST_CHECK(summary["resumed"].GetBool());
  BOOST_CHECK_EQUAL(summary["shards"].GetInt64(), 3);
  BOOST_CHECK_EQUAL(summary["pending_shards"].GetInt64(), 2);
}

// `tm-sidecar submit --max-shards` records the capped batch size; an init by key
// alone then keeps it, whatever its own --max-shards says.
void CheckSubmitRecordsTheCap(const StoreSpec& store, const std::string& key) {
  TempDir tmp;
  Workflow wf(tmp.path(), key, store);
  WriteFile(tmp / "tasks.json", TaskListJson(TaskIds("t", 10)));
  std::string submit = std::string(kSidecarBinary) + " submit";
  for (const std::string& flag : store.flags) submit += " " + ShellQuote(flag);
  submit += " --task-list @" + ShellQuote(tmp / "tasks.json") + " --state-key " + ShellQuote(key);

  ShellResult bad = Shell(submit + " --max-shards 0 -o text");
  BOOST_CHECK_EQUAL(bad.exit_code, pr::kExitUsage);
  BOOST_CHECK_MESSAGE(bad.out.find("--max-shards") != std::string::npos, bad.out);

  ShellResult ok = Shell(submit + " --max-shards 2 -o text");
  BOOST_REQUIRE_MESSAGE(ok.exit_code == 0, ok.out);
  BOOST_CHECK_MESSAGE(
      ok.out.find("Recorded 10 tasks under state key " + key) != std::string::npos &&
          ok.out.find(", 2 shards of 5).") != std::string::npos &&
          ok.out.find("raising the batch size from 1 to 5 so that 10 tasks fit in 2 shards "
                      "(--max-shards 2)") != std::string::npos,
      ok.out);

  const std::string dir = wf.NewPodDir("init");
  PodResult init = RunPod(dir, wf.Spec("init"), {"init", "--task-list", "", "--max-shards", "10"});
  BOOST_REQUIRE_MESSAGE(init.step == 0 && init.sidecar == 0, init.logs);
  BOOST_CHECK_MESSAGE(
      init.logs.find("keeping the recorded batch size 5 (2 shards)") != std::string::npos,
      init.logs);
  BOOST_CHECK_EQUAL(ReadFile(dir + "/work/outputs/batch-size"), "5\n");
  BOOST_CHECK_EQUAL(ReadFile(dir + "/work/outputs/shards"), "[0,1]\n");
}

BOOST_AUTO_TEST_SUITE(max_shards)

BOOST_AUTO_TEST_CASE(submit_records_the_cap_sqlite) {
  TempDir db;
  CheckSubmitRecordsTheCap(SqliteStore(db.path() + "/state.db"), UniqueKey("max-shards"));
}

BOOST_AUTO_TEST_CASE(submit_records_the_cap_postgres_redis) {
  CheckSubmitRecordsTheCap(PostgresStore(/*with_redis=*/true), UniqueKey("max-shards"));
}

BOOST_AUTO_TEST_CASE(resume_keeps_the_recorded_shards_sqlite) {
  TempDir db;
  CheckResumeKeepsTheShards(SqliteStore(db.path() + "/state.db"), UniqueKey("max-shards"));
}

BOOST_AUTO_TEST_CASE(resume_keeps_the_recorded_shards_postgres_redis) {
  CheckResumeKeepsTheShards(PostgresStore(/*with_redis=*/true), UniqueKey("max-shards"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
