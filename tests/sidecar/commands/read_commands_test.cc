// `tm-sidecar get`, `tasks` and `history` run in-process through Main, with
// stdout and stderr captured (not a terminal: JSON unless -o says), against a
// SQLite store in a temp dir. The same reads against PostgreSQL are the
// store's conformance cases (task_reads_conformance.h).
#include <boost/test/unit_test.hpp>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../store/store_conformance.h"
#include "run_main.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace taskmaster::sidecar {
namespace {

using conformance::InitWorkflow;
using conformance::TaskIds;
using conformance::TestWriter;

using Run = MainRun;

class CommandsFixture {
 public:
  CommandsFixture() : tmp_("tm-read-commands"), path_(tmp_ / "state.db") {
    store_ = std::move(OpenSqliteStore(path_, Env::Default())).value();
    BOOST_REQUIRE(store_->Migrate().ok());
    InitWorkflow(*store_, "wf", TaskIds(5, "t"), 5);
    TestWriter w(*store_, "wf", protocol::Role::kShard, 0);
    Batch b = w.NewBatch();
    for (int i = 0; i < 3; ++i) w.Succeed(&b, i, "t" + std::to_string(i));
    w.Start(&b, 3, "t3");
    w.End(&b, 3, "t3", TaskStatus::kFailed, true, 9, "it broke\nbadly");
    BOOST_REQUIRE(store_->Apply(b).ok());
  }

  // tm-sidecar ARGS... --store sqlite:PATH
  Run Sidecar(std::vector<std::string> args) {
    args.push_back("--store");
    args.push_back("sqlite:" + path_);
    return RunMain(std::move(args));
  }

  test_support::TempDir tmp_;
  std::string path_;
  std::unique_ptr<StateStore> store_;
};

BOOST_FIXTURE_TEST_SUITE(read_commands, CommandsFixture)

BOOST_AUTO_TEST_CASE(get_prints_the_summary_with_the_failure_budget) {
  Run r = Sidecar({"get", "wf", "--max-failures", "3"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK(r.out.find(R"({"workflow_id":"wf","status":"running","total":5,"succeeded":3,)"
                         R"("failed":1,"running":0,"pending":1,"cancelled":0,"done":4,)"
                         R"("percent":80.0,)") == 0);
  BOOST_CHECK(r.out.find(R"("max_failures":3,"max_failure_percent":0.0,"tolerated":3,)"
                         R"("failure_budget_left":2,"source":"store"})") != std::string::npos);
  r = Sidecar({"get", "wf", "-o", "table"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK(r.out.find("STATUS:          running\n") != std::string::npos);
  BOOST_CHECK(r.out.find("PROGRESS:        80.0% (4/5)\n") != std::string::npos);
  BOOST_CHECK(r.out.find("FAILURE BUDGET:  unknown") != std::string::npos);
}

// Recorded by the steps (a budget record), the budget needs no flag; the flag
// still replaces the recorded max-failures.
BOOST_AUTO_TEST_CASE(get_shows_the_recorded_failure_budget) {
  TestWriter w(*store_, "wf", protocol::Role::kShard, 0);
  Batch b = w.NewBatch();
  w.Budget(&b, 0, 40, 3, 2);  // 40% of 5: 2 tolerated
  BOOST_REQUIRE(store_->Apply(b).ok());
  Run r = Sidecar({"get", "wf"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK_MESSAGE(
      r.out.find(R"("max_failures":0,"max_failure_percent":40.0,"tolerated":2,)"
                 R"("failure_budget_left":1,"task_retries":3,"quarantine_after":2,)"
                 R"("source":"store"})") != std::string::npos,
      r.out);
  r = Sidecar({"get", "wf", "-o", "table"});
  BOOST_CHECK_MESSAGE(r.out.find("FAILURE BUDGET:  1 of 2 final failures left (max-failures 0, "
                                 "max-failure-percent 40)") != std::string::npos,
                      r.out);
  BOOST_CHECK_MESSAGE(r.out.find("PER TASK:        task-retries 3, quarantine-after 2 (quarantined "
                                 "after 2 failures in a row with one fingerprint)") !=
                          std::string::npos,
                      r.out);
  r = Sidecar({"get", "wf", "--max-failures", "4"});
  BOOST_CHECK_MESSAGE(r.out.find(R"("tolerated":4,"failure_budget_left":3,)") != std::string::npos,
                      r.out);
}

BOOST_AUTO_TEST_CASE(tasks_pages_through_the_list) {
  Run r = Sidecar({"tasks", "wf", "--limit", "2"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK(r.out.find(R"({"workflow_id":"wf","tasks":[{"ordinal":0,"task_id":"t0",)") == 0);
  BOOST_CHECK(r.out.find(R"("next_after":1})") != std::string::npos);
  r = Sidecar({"tasks", "wf", "--limit", "2", "--after", "3", "-o", "table"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK_EQUAL(r.out,
                    "ORDINAL  TASK  STATUS   ATTEMPTS  EXIT  DURATION  ERROR\n"
                    "4        t4    pending  0         -     -         -\n");
  r = Sidecar({"tasks", "wf", "--status", "failed", "-o", "table"});
  BOOST_CHECK(
      r.out.find("3        t3    failed (final)  1         9     0.005s    it broke badly") !=
      std::string::npos);
  r = Sidecar({"tasks", "wf", "--limit", "3", "-o", "jsonl"});
  BOOST_CHECK_EQUAL(std::count(r.out.begin(), r.out.end(), '\n'), 3);
  BOOST_CHECK_EQUAL(r.err, "next page: --after 2\n");
  r = Sidecar({"tasks", "wf", "--limit", "3", "-o", "table"});
  BOOST_CHECK(r.out.find("\nNext page: --after 2\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(history_shows_the_attempts) {
  Run r = Sidecar({"history", "wf", "t3", "-o", "table"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK(r.out.find("Task t3 (ordinal 3): failed (final), generation 0\n") == 0);
  BOOST_CHECK(r.out.find("ATTEMPT  FENCE  SHARD  POD") != std::string::npos);
  BOOST_CHECK(r.out.find("failed   9     0           it broke badly\n") != std::string::npos);
  r = Sidecar({"history", "wf", "t3"});
  BOOST_CHECK(r.out.find(R"("attempts":[{"attempt":1,"fence":1,"shard":0,)") != std::string::npos);
  r = Sidecar({"history", "wf", "t4", "-o", "jsonl"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK_EQUAL(r.out, "");
}

BOOST_AUTO_TEST_CASE(bad_input_is_exit_2_with_a_message) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"tasks", "wf", "--status", "done"},
       "tm-sidecar: --status: unknown task status 'done' (use pending, running, succeeded, "
       "failed, interrupted, cancelled or quarantined)\n"},
      {{"tasks", "wf", "--limit", "-5"},
       "tm-sidecar: --limit: '-5' is not a page size (an integer from 1 to 10000)\n"},
      {{"tasks", "wf", "--limit", "0"},
       "tm-sidecar: --limit: '0' is not a page size (an integer from 1 to 10000)\n"},
      {{"tasks", "wf", "--limit", "10001"},
       "tm-sidecar: --limit: '10001' is not a page size (an integer from 1 to 10000)\n"},
      {{"tasks", "wf", "--after", "t3"},
       "tm-sidecar: --after: 't3' is not a task ordinal (a non-negative integer: the "
       "next_after of the previous page)\n"},
      {{"tasks", "nope"}, "tm-sidecar: nope: workflow 'nope' was never initialized\n"},
      {{"get", "nope"}, "tm-sidecar: nope: workflow 'nope' was never initialized\n"},
      {{"history", "nope", "t1"}, "tm-sidecar: nope: workflow 'nope' was never initialized\n"},
  };
  for (const auto& [args, message] : cases) {
    BOOST_TEST_CONTEXT(args[0] << " " << args[1] << " " << args.back()) {
      const Run r = Sidecar(args);
      BOOST_CHECK_EQUAL(r.code, 2);
      BOOST_CHECK_EQUAL(r.out, "");
      BOOST_CHECK_EQUAL(r.err, message);
    }
  }
  const Run r = Sidecar({"history", "wf", "zz"});
  BOOST_CHECK_EQUAL(r.code, 2);
  BOOST_CHECK(r.err.find("workflow 'wf' has no task 'zz'\n") != std::string::npos);
  BOOST_CHECK_EQUAL(Sidecar({"get", "wf", "-o", "yaml"}).code, 2);
}

// --watch prints each change and returns once the workflow finishes: here when
// its last pending task ends, which leaves nothing to run beside t3's final
// failure, so the stored status turns `failed` in that one write. (A finalize
// after it would race the watch, which rightly stops at the first end state.)
BOOST_AUTO_TEST_CASE(watch_ends_when_the_workflow_finishes) {
  Run watched;
  std::thread watcher([&] {
    watched = Sidecar({"get", "wf", "--watch", "--interval", "0.02", "-o", "json"});
  });
  TestWriter w(*store_, "wf", protocol::Role::kShard, 0);
  Batch b = w.NewBatch();
  w.Succeed(&b, 4, "t4");
  BOOST_REQUIRE(store_->Apply(b).ok());
  watcher.join();
  BOOST_CHECK_EQUAL(watched.code, 0);
  BOOST_CHECK(watched.out.find(R"("status":"failed")") != std::string::npos);
  const size_t last = watched.out.rfind('\n', watched.out.size() - 2);
  const std::string last_line = watched.out.substr(last == std::string::npos ? 0 : last + 1);
  BOOST_CHECK(last_line.find(R"("status":"failed","total":5,"succeeded":4,"failed":1)") !=
              std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
