// The init and finalize pod roles (DESIGN.md §2, issue 3) against the fake
// sidecar: what init records and outputs for a new and a resumed workflow, the
// refused resume, the shard cap (--max-shards) and the lanes (--parallelism),
// init by state key alone (issue 10), and finalize's exit code and outputs.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "fake_sidecar.h"
#include "shard_fixture.h"
#include "step_harness.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step_test {
namespace {

namespace pr = protocol;
using RT = pr::RecordType;

pr::Ready RoleReady(pr::Role role) {
  pr::Ready ready;
  ready.fence = kFence;
  ready.workflow_id = kStateKey;
  ready.role = role;
  return ready;
}

// Runs tm-step ARGS as a pod role with the fixture's identity and the sidecar.
StepResult RunRole(const ShardFixture& f, FakeSidecar& sidecar,
                   const std::vector<std::string>& args) {
  StepProcess step(args, f.env, f.tmp.path());
  const int code = Finish(step, sidecar);
  return StepResult{code, step.out(), step.err()};
}

std::string JsonList(const std::vector<std::string>& ids) {
  std::string json = "[";
  for (size_t i = 0; i < ids.size(); ++i) json += (i ? ",\"" : "\"") + ids[i] + "\"";
  return json + "]";
}

const std::vector<std::string> kIds = {"a", "b", "c"};

// What the store holds for kIds recorded with --batch-size 2, with these statuses.
pr::InitRestore RecordedKIds(std::vector<TaskStatus> statuses) {
  pr::InitRestore restore;
  restore.workflow_id = kStateKey;
  restore.exists = true;
  restore.list_hash = pr::ListHash(kIds);
  restore.task_count = 3;
  restore.batch_size = 2;
  restore.effective_batch_size = 2;
  restore.statuses = std::move(statuses);
  return restore;
}

// Runs `tm-step init --task-list LIST FLAGS...` for a workflow the store does
// not hold yet.
StepResult RunNewInit(const ShardFixture& f, FakeSidecar& sidecar, const std::string& list,
                      const std::vector<std::string>& flags) {
  pr::InitRestore restore;
  restore.workflow_id = kStateKey;
  sidecar.WriteInitRestore(restore);
  sidecar.Start(RoleReady(pr::Role::kInit));
  std::vector<std::string> args = {"init", "--task-list", list};
  args.insert(args.end(), flags.begin(), flags.end());
  return RunRole(f, sidecar, args);
}

BOOST_AUTO_TEST_SUITE(roles)

BOOST_AUTO_TEST_CASE(init_records_a_new_workflow) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  pr::InitRestore restore;
  restore.workflow_id = kStateKey;
  sidecar.WriteInitRestore(restore);
  sidecar.Start(RoleReady(pr::Role::kInit));
  StepResult r = RunRole(f, sidecar, {"init", "--task-list", JsonList(kIds), "--batch-size", "2"});
  BOOST_CHECK_EQUAL(r.exit_code, pr::kExitOk);

  const std::vector<RT> expected = {RT::kWorkflowInit, RT::kTaskList, RT::kCommit};
  BOOST_REQUIRE(sidecar.Types() == expected);
  const auto records = sidecar.records();
  auto init = pr::DecodeWorkflowInit(records[0].payload);
  BOOST_REQUIRE(init.ok());
  BOOST_CHECK_EQUAL(init->workflow_id, kStateKey);
  BOOST_CHECK_EQUAL(init->task_count, 3);
  BOOST_CHECK_EQUAL(init->batch_size, 2);
  BOOST_CHECK_EQUAL(init->effective_batch_size, 2);
  BOOST_CHECK_EQUAL(init->list_hash, pr::ListHash(kIds));
  BOOST_CHECK_EQUAL(init->list_records, 1);
  auto list = pr::DecodeTaskList(records[1].payload);
  BOOST_REQUIRE(list.ok());
  BOOST_CHECK_EQUAL(list->first_ordinal, 0);
  BOOST_CHECK(list->ids == kIds);

  BOOST_CHECK_EQUAL(f.Output(pr::kOutShards), "[0,1]\n");
  BOOST_CHECK_EQUAL(f.Output(pr::kOutBatchSize), "2\n");
  BOOST_CHECK_EQUAL(f.Output(pr::kOutTaskCount), "3\n");
  rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK(summary["durable"].GetBool());
  BOOST_CHECK(!summary["resumed"].GetBool());
  // The summary in the commit record, byte for byte (tests/golden/summary-init.json).
  auto commit = pr::DecodeCommit(records[2].payload);
  BOOST_REQUIRE(commit.ok());
  BOOST_CHECK_EQUAL(commit->outputs.at(pr::kOutSummary),
                    R"({"workflow_id":"wf-test","task_count":3,"batch_size":2,"shards":2,)"
                    R"("pending_shards":2,"resumed":false,"list_hash":")" +
                        pr::ListHash(kIds) + "\"}");
}

// A list from a file, over several kTaskList records: init reads it twice as a
// stream (a digest first, then the records) and records what ChunkTaskList
// makes of the whole list.
BOOST_AUTO_TEST_CASE(init_records_a_long_list_from_a_file_record_by_record) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  std::vector<std::string> ids;
  for (int i = 0; i < 9000; ++i) ids.push_back(std::to_string(100000 + i) + std::string(244, 'x'));
  const std::vector<pr::TaskListRecord> chunks = pr::ChunkTaskList(ids);
  BOOST_REQUIRE_EQUAL(chunks.size(), 3u);
  WriteFile(f.tmp / "ids.json", JsonList(ids));
  StepResult r = RunNewInit(f, sidecar, "@" + (f.tmp / "ids.json"),
                            {"--batch-size", "1000", "--no-inline-limit"});
  BOOST_REQUIRE_EQUAL(r.exit_code, pr::kExitOk);

  const std::vector<RT> expected = {RT::kWorkflowInit, RT::kTaskList, RT::kTaskList, RT::kTaskList,
                                    RT::kCommit};
  BOOST_REQUIRE(sidecar.Types() == expected);
  const auto records = sidecar.records();
  auto init = pr::DecodeWorkflowInit(records[0].payload);
  BOOST_REQUIRE(init.ok());
  BOOST_CHECK_EQUAL(init->task_count, 9000);
  BOOST_CHECK_EQUAL(init->list_hash, pr::ListHash(ids));
  BOOST_CHECK_EQUAL(init->list_records, 3);
  for (size_t i = 0; i < chunks.size(); ++i) {
    auto list = pr::DecodeTaskList(records[1 + i].payload);
    BOOST_REQUIRE(list.ok());
    BOOST_CHECK_EQUAL(list->first_ordinal, chunks[i].first_ordinal);
    BOOST_CHECK(list->ids == chunks[i].ids);
  }
  BOOST_CHECK_EQUAL(f.Output(pr::kOutTaskCount), "9000\n");
}

BOOST_AUTO_TEST_CASE(init_resumed_outputs_only_shards_with_work) {
  struct Case {
    std::vector<TaskStatus> statuses;
    std::string shards;
  };
  const std::vector<Case> cases = {
      {{TaskStatus::kSucceeded, TaskStatus::kSucceeded, TaskStatus::kFailed}, "[1]\n"},
      {{TaskStatus::kSucceeded, TaskStatus::kSucceeded, TaskStatus::kSucceeded}, "[]\n"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("expecting " << c.shards) {
      ShardFixture f;
      FakeSidecar sidecar(f.work);
      sidecar.WriteInitRestore(RecordedKIds(c.statuses));
      sidecar.Start(RoleReady(pr::Role::kInit));
      StepResult r =
          RunRole(f, sidecar, {"init", "--task-list", JsonList(kIds), "--batch-size", "2"});
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitOk);
      // Nothing is recorded again; only the commit with the outputs.
      BOOST_CHECK(sidecar.Types() == std::vector<RT>({RT::kCommit}));
      BOOST_CHECK_EQUAL(f.Output(pr::kOutShards), c.shards);
      rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
      BOOST_CHECK(summary["resumed"].GetBool());
    }
  }
}

// A crash between workflow_init and the last task_list record leaves the list
// recorded in part: init records all of it again instead of resuming.
BOOST_AUTO_TEST_CASE(init_records_a_partly_recorded_list_again) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  // the task_list record never became durable
  sidecar.WriteInitRestore(RecordedKIds({}));
  sidecar.Start(RoleReady(pr::Role::kInit));
  StepResult r = RunRole(f, sidecar, {"init", "--task-list", JsonList(kIds), "--batch-size", "2"});
  BOOST_CHECK_EQUAL(r.exit_code, pr::kExitOk);
  const std::vector<RT> expected = {RT::kWorkflowInit, RT::kTaskList, RT::kCommit};
  BOOST_CHECK(sidecar.Types() == expected);
  BOOST_CHECK_EQUAL(f.Output(pr::kOutShards), "[0,1]\n");
  rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK(!summary["resumed"].GetBool());
}

BOOST_AUTO_TEST_CASE(init_refuses_a_resume_with_another_list_or_batch_size) {
  struct Case {
    const char* name;
    std::vector<std::string> ids;
    const char* batch;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"another list", {"a", "b", "d"}, "2", "different task list"},
      {"another order", {"b", "a", "c"}, "2", "different task list"},
      {"another batch size", kIds, "1", "--batch-size 2"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      ShardFixture f;
      FakeSidecar sidecar(f.work);
      sidecar.WriteInitRestore(RecordedKIds(std::vector<TaskStatus>(3, TaskStatus::kPending)));
      sidecar.Start(RoleReady(pr::Role::kInit));
      StepResult r =
          RunRole(f, sidecar, {"init", "--task-list", JsonList(c.ids), "--batch-size", c.batch});
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitUsage);
      BOOST_CHECK_MESSAGE(Contains(r.err, c.message), r.err);
      BOOST_CHECK(sidecar.records().empty());
      BOOST_CHECK(!FileExists(f.work + "/" + pr::kOutputsDir));
    }
  }
}

// A new workflow whose list needs more than --max-shards shards at the requested
// batch size gets a larger one, and init says so.
BOOST_AUTO_TEST_CASE(init_caps_the_shard_count_at_max_shards) {
  struct Case {
    int tasks;
    std::vector<std::string> flags;
    const char* batch;
    const char* last_shard;
    const char* message;
  };
  const std::vector<Case> cases = {
      {5001, {"--max-shards", "5000"}, "2", "2500", "to 2 so that 5001 tasks fit in 2501 shards"},
      {129, {}, "2", "64", "to 2 so that 129 tasks fit in 65 shards (--max-shards 128)"},
      {10, {"--max-shards=3"}, "4", "2", "to 4 so that 10 tasks fit in 3 shards"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.tasks << " tasks") {
      ShardFixture f;
      std::vector<std::string> ids;
      for (int i = 0; i < c.tasks; ++i) ids.push_back("task-" + std::to_string(i));
      WriteFile(f.tmp / "list.json", JsonList(ids));
      FakeSidecar sidecar(f.work);
      StepResult r = RunNewInit(f, sidecar, "@" + (f.tmp / "list.json"), c.flags);
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitOk);
      BOOST_CHECK_MESSAGE(
          Contains(r.err, std::string("raising the batch size from 1 ") + c.message), r.err);
      BOOST_CHECK_EQUAL(f.Output(pr::kOutBatchSize), std::string(c.batch) + "\n");
      const std::string shards = f.Output(pr::kOutShards);
      BOOST_CHECK_EQUAL(shards.substr(0, 3), "[0,");
      BOOST_CHECK(Contains(shards, std::string(",") + c.last_shard + "]\n"));
      auto init = pr::DecodeWorkflowInit(sidecar.records().at(0).payload);
      BOOST_REQUIRE(init.ok());
      BOOST_CHECK_EQUAL(init->batch_size, 1);
      BOOST_CHECK_EQUAL(std::to_string(init->effective_batch_size), c.batch);
    }
  }
}

// A resume keeps the shards it was recorded with, whatever --max-shards says now:
// shard k must hold the same tasks in every run of a workflow.
BOOST_AUTO_TEST_CASE(init_resume_keeps_the_recorded_batch_size) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  sidecar.WriteInitRestore(RecordedKIds(std::vector<TaskStatus>(3, TaskStatus::kPending)));
  sidecar.Start(RoleReady(pr::Role::kInit));
  // --max-shards 1 would need a batch of 3 for a new workflow.
  StepResult r =
      RunRole(f, sidecar,
              {"init", "--task-list", JsonList(kIds), "--batch-size", "2", "--max-shards", "1"});
  BOOST_CHECK_EQUAL(r.exit_code, pr::kExitOk);
  BOOST_CHECK(sidecar.Types() == std::vector<RT>({RT::kCommit}));
  BOOST_CHECK_MESSAGE(Contains(r.err, "keeping the recorded batch size 2 (2 shards)"), r.err);
  BOOST_CHECK(!Contains(r.err, "raising"));
  BOOST_CHECK_EQUAL(f.Output(pr::kOutBatchSize), "2\n");
  BOOST_CHECK_EQUAL(f.Output(pr::kOutShards), "[0,1]\n");
  rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK_EQUAL(summary["batch_size"].GetInt64(), 2);
  BOOST_CHECK_EQUAL(summary["shards"].GetInt64(), 2);
}

// The pending shards dealt over --parallelism lanes, for the WorkflowTemplate's
// fan-out (one lane runs one shard at a time).
BOOST_AUTO_TEST_CASE(init_outputs_the_lanes) {
  struct Case {
    std::vector<std::string> flags;
    EnvVars env;
    const char* lanes;
    const char* plan;
    const char* width;
  };
  const std::vector<Case> cases = {
      {{"--parallelism", "2"}, {}, "[0,1]\n", "[0,2][1]  \n", "5\n"},
      {{}, {{"TM_PARALLELISM", "1"}}, "[0]\n", "[0,1,2]\n", "7\n"},
      {{}, {}, "[0,1,2]\n", "[0][1][2]\n", "3\n"},  // the default, 20, over 3 shards
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("lanes " << c.lanes) {
      ShardFixture f;
      for (const auto& [name, value] : c.env) f.env[name] = value;
      FakeSidecar sidecar(f.work);
      StepResult r = RunNewInit(f, sidecar, JsonList(kIds), c.flags);
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitOk);
      BOOST_CHECK_EQUAL(f.Output(pr::kOutShards), "[0,1,2]\n");
      BOOST_CHECK_EQUAL(f.Output(pr::kOutLanes), c.lanes);
      BOOST_CHECK_EQUAL(f.Output(pr::kOutLanePlan), c.plan);
      BOOST_CHECK_EQUAL(f.Output(pr::kOutLaneWidth), c.width);
    }
  }
}

// --max-shards and --parallelism take a decimal integer in their range, from the
// flag or the environment; anything else is exit 2 with the range, nothing written.
BOOST_AUTO_TEST_CASE(init_refuses_a_bad_max_shards_or_parallelism) {
  struct Case {
    std::vector<std::string> flags;
    EnvVars env;
    std::string message;
  };
  const std::string kShards = " is not a whole number between 1 and 5000";
  const std::vector<Case> cases = {
      {{"--max-shards", "0"}, {}, "--max-shards: 0" + kShards},
      {{"--max-shards", "5001"}, {}, "--max-shards: 5001" + kShards},
      {{"--max-shards", "abc"}, {}, "--max-shards: abc" + kShards},
      {{"--max-shards", "0x10"}, {}, "--max-shards: 0x10" + kShards},
      {{"--max-shards", "1e3"}, {}, "--max-shards: 1e3" + kShards},
      {{"--max-shards=-1"}, {}, "--max-shards: -1" + kShards},
      {{"--max-shards="}, {}, "--max-shards: 1 required INT:1..5000 missing"},  // CLI11's
      {{"--max-shards", "99999999999999999999"},
       {},
       "--max-shards: 99999999999999999999" + kShards},
      {{}, {{"TM_MAX_SHARDS", "12x"}}, "--max-shards: 12x" + kShards},
      {{"--parallelism", "0"}, {}, "--parallelism: 0" + kShards},
      {{"--parallelism", " 4"}, {}, "--parallelism: ' 4'" + kShards},
      {{}, {{"TM_PARALLELISM", "5001"}}, "--parallelism: 5001" + kShards},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT((c.flags.empty() ? "env" : c.flags.back())) {
      ShardFixture f;
      for (const auto& [name, value] : c.env) f.env[name] = value;
      FakeSidecar sidecar(f.work);
      StepResult r = RunNewInit(f, sidecar, JsonList(kIds), c.flags);
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitUsage);
      BOOST_CHECK_MESSAGE(Contains(r.err, c.message), r.err);
      BOOST_CHECK(sidecar.records().empty());
      BOOST_CHECK(!FileExists(f.work + "/" + pr::kOutputsDir));
    }
  }
}

// init as the WorkflowTemplate runs it for `argo submit ... -p state-key=K`: an
// empty task-list and the template's batch size. It hands out the shards of the
// list recorded under the key (tm-sidecar submit) at the recorded batch size,
// from restore/init.json alone, and records nothing.
BOOST_AUTO_TEST_CASE(init_without_a_list_resumes_the_recorded_one) {
  const std::vector<std::vector<std::string>> forms = {
      {"init", "--task-list", "", "--batch-size", "1"},
      {"init"},
  };
  for (const auto& args : forms) {
    BOOST_TEST_CONTEXT(args.size() << " arguments") {
      ShardFixture f;
      FakeSidecar sidecar(f.work);
      sidecar.WriteInitRestore(
          RecordedKIds({TaskStatus::kSucceeded, TaskStatus::kSucceeded, TaskStatus::kPending}));
      sidecar.Start(RoleReady(pr::Role::kInit));
      StepResult r = RunRole(f, sidecar, args);
      BOOST_CHECK_MESSAGE(r.exit_code == pr::kExitOk, r.err);
      BOOST_CHECK(sidecar.Types() == std::vector<RT>({RT::kCommit}));
      BOOST_CHECK_EQUAL(f.Output(pr::kOutShards), "[1]\n");
      BOOST_CHECK_EQUAL(f.Output(pr::kOutBatchSize), "2\n");
      BOOST_CHECK_EQUAL(f.Output(pr::kOutTaskCount), "3\n");
      BOOST_CHECK_EQUAL(sidecar.Commit()->outputs.at(pr::kOutSummary),
                        R"({"workflow_id":"wf-test","task_count":3,"batch_size":2,"shards":2,)"
                        R"("pending_shards":1,"resumed":true,"list_hash":")" +
                            pr::ListHash(kIds) + "\"}");
    }
  }
}

BOOST_AUTO_TEST_CASE(init_without_a_list_refuses_a_key_with_none_recorded_whole) {
  struct Case {
    const char* name;
    pr::InitRestore restore;
    const char* message;
  };
  pr::InitRestore none;
  none.workflow_id = kStateKey;
  const std::vector<Case> cases = {
      {"nothing recorded", none, "state key wf-test has none recorded"},
      {"recorded in part", RecordedKIds({TaskStatus::kPending}), "is incomplete (1 of 3 tasks"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      ShardFixture f;
      FakeSidecar sidecar(f.work);
      sidecar.WriteInitRestore(c.restore);
      sidecar.Start(RoleReady(pr::Role::kInit));
      StepResult r = RunRole(f, sidecar, {"init", "--task-list", "", "--batch-size", "1"});
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitUsage);
      // What to do: record the list by key, or give it.
      BOOST_CHECK_MESSAGE(Contains(r.err, c.message), r.err);
      BOOST_CHECK_MESSAGE(
          Contains(r.err, "tm-sidecar submit --task-list @FILE --state-key wf-test"), r.err);
      BOOST_CHECK_MESSAGE(Contains(r.err, "task-list"), r.err);
      BOOST_CHECK(sidecar.records().empty());
      BOOST_CHECK(!FileExists(f.work + "/" + pr::kOutputsDir));
    }
  }
}

// tm-step local's init (--no-inline-limit) records a list over the inline limit.
BOOST_AUTO_TEST_CASE(init_records_a_list_over_the_inline_limit_when_told) {
  ShardFixture f;
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i) ids.push_back(std::string(90, 'x') + std::to_string(i));
  const std::string json = JsonList(ids);
  BOOST_REQUIRE_GT(json.size(), pr::kMaxInlineTaskListBytes);
  WriteFile(f.tmp / "list.json", json);
  FakeSidecar sidecar(f.work);
  pr::InitRestore restore;
  restore.workflow_id = kStateKey;
  sidecar.WriteInitRestore(restore);
  sidecar.Start(RoleReady(pr::Role::kInit));
  StepResult r = RunRole(f, sidecar,
                         {"init", "--task-list", "@" + (f.tmp / "list.json"), "--no-inline-limit"});
  BOOST_CHECK_MESSAGE(r.exit_code == pr::kExitOk, r.err);
  BOOST_CHECK_EQUAL(f.Output(pr::kOutTaskCount), "3000\n");
  auto init = pr::DecodeWorkflowInit(sidecar.records().at(0).payload);
  BOOST_REQUIRE(init.ok());
  BOOST_CHECK_EQUAL(init->list_hash, pr::ListHash(ids));
}

BOOST_AUTO_TEST_CASE(finalize_fails_when_final_failures_exceed_the_limit) {
  struct Case {
    const char* max_failures;
    const char* max_failure_percent;
    const char* tolerated;  // the larger of the two, 40% of 5 being 2
    int exit_code;
    const char* status;
  };
  for (const Case& c : {Case{"1", "0", "1", pr::kExitFailed, "failed"},
                        Case{"2", "0", "2", pr::kExitOk, "succeeded"},
                        Case{"1", "40", "2", pr::kExitOk, "succeeded"}}) {
    BOOST_TEST_CONTEXT("--max-failures " << c.max_failures << " --max-failure-percent "
                                         << c.max_failure_percent) {
      ShardFixture f;
      FakeSidecar sidecar(f.work);
      pr::WorkflowSummary summary;
      summary.workflow_id = kStateKey;
      summary.counts.total = 5;
      summary.counts.succeeded = 3;
      summary.counts.failed = 2;
      summary.failed_total = 2;
      summary.failed = {{"x", 3, "exited with code 3"}, {"y/z", 137, "killed by signal 9"}};
      sidecar.WriteSummaryRestore(summary);
      sidecar.Start(RoleReady(pr::Role::kFinalize));
      StepResult r = RunRole(f, sidecar,
                             {"finalize", "--max-failures", c.max_failures, "--max-failure-percent",
                              c.max_failure_percent});
      BOOST_CHECK_EQUAL(r.exit_code, c.exit_code);
      BOOST_CHECK_EQUAL(f.Output(pr::kOutTotal), "5\n");
      BOOST_CHECK_EQUAL(f.Output(pr::kOutSucceeded), "3\n");
      BOOST_CHECK_EQUAL(f.Output(pr::kOutFailed), "2\n");
      BOOST_CHECK_EQUAL(f.Output(pr::kOutFailedTasks), "[\"x\",\"y/z\"]\n");
      rapidjson::Document out = ParseObject(f.Output(pr::kOutSummary));
      BOOST_CHECK_EQUAL(out["status"].GetString(), std::string(c.status));
      BOOST_CHECK(out["durable"].GetBool());
      // The summary in the commit record, byte for byte
      // (tests/golden/summary-finalize.json).
      BOOST_CHECK_EQUAL(sidecar.Commit()->outputs.at(pr::kOutSummary),
                        std::string(R"({"workflow_id":"wf-test","status":")") + c.status +
                            R"(","total":5,"succeeded":3,"failed":2,"cancelled":0,)"
                            R"("unfinished":0,"max_failures":)" +
                            c.max_failures + R"(,"max_failure_percent":)" + c.max_failure_percent +
                            R"(.0,"tolerated":)" + c.tolerated +
                            R"(,"failed_tasks":["x","y/z"],"failed_total":2})");
      // The budget it was given, for the store, before the commit.
      const std::vector<pr::BudgetRecord> budgets = sidecar.Budgets();
      BOOST_REQUIRE_EQUAL(budgets.size(), 1u);
      BOOST_CHECK_EQUAL(std::to_string(budgets[0].budget.max_failures), c.max_failures);
      BOOST_CHECK(!budgets[0].budget.task_retries.has_value());
    }
  }
}

// Tasks that never reached a terminal state (a shard whose every attempt died)
// fail the workflow even when no failure is final.
BOOST_AUTO_TEST_CASE(finalize_fails_with_unfinished_tasks) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  pr::WorkflowSummary summary;
  summary.workflow_id = kStateKey;
  summary.counts.total = 3;
  summary.counts.succeeded = 2;
  summary.counts.pending = 1;
  sidecar.WriteSummaryRestore(summary);
  sidecar.Start(RoleReady(pr::Role::kFinalize));
  StepResult r = RunRole(f, sidecar, {"finalize", "--max-failures", "5"});
  BOOST_CHECK_EQUAL(r.exit_code, pr::kExitFailed);
  BOOST_CHECK_MESSAGE(Contains(r.err, "1 tasks never finished"), r.err);
  rapidjson::Document out = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK_EQUAL(out["status"].GetString(), std::string("failed"));
  BOOST_CHECK_EQUAL(out["unfinished"].GetInt64(), 1);
  BOOST_CHECK_EQUAL(f.Output(pr::kOutFailedTasks), "[]\n");
}

// A shard's summary, byte for byte but for its duration: what Argo users and
// tm-step local read (docs/protocol.md, tests/golden/summary-shard.json).
BOOST_AUTO_TEST_CASE(shard_summary_bytes) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  sidecar.WriteShardRestore(ShardFixture::Shard({"a", "b"}));
  sidecar.Start(f.Ready());
  auto step = f.StartSh("exit 0");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  auto commit = sidecar.Commit();
  BOOST_REQUIRE(commit.has_value());
  const std::string summary = commit->outputs.at(pr::kOutSummary);
  const size_t duration = summary.find(R"("duration_ms":)");
  BOOST_REQUIRE(duration != std::string::npos);
  BOOST_CHECK_EQUAL(summary.substr(0, duration),
                    R"({"workflow_id":"wf-test","shard":0,"attempt":0,"total":2,"succeeded":2,)"
                    R"("failed":0,"interrupted":0,"cancelled":0,"skipped":0,"not_run":0,)"
                    R"("final_failures":0,"stopped":false,)");
  auto decoded = pr::DecodeShardSummary(summary);
  BOOST_REQUIRE_MESSAGE(decoded.ok(), decoded.status().ToString());
  BOOST_CHECK_EQUAL(pr::Encode(*decoded), summary);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step_test
