// `tm-sidecar export-failed` and `requeue` in-process through Main against a
// SQLite store: what they print, that --dry-run and every refused input write
// nothing. The store's own transaction is a conformance case on both stores
// (requeue_conformance.h); PostgreSQL with the Redis refill is
// requeue_services_test.cc.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "../store/store_conformance.h"
#include "run_main.h"
#include "store/sqlite_store.h"
#include "support/files.h"
#include "support/temp_dir.h"

namespace taskmaster::sidecar {
namespace {

using conformance::CheckSameState;
using conformance::FailedWorkflow;

using Run = MainRun;

class RequeueFixture {
 public:
  RequeueFixture() : tmp_("tm-requeue"), path_(tmp_ / "state.db") {
    store_ = std::move(OpenSqliteStore(path_, Env::Default())).value();
    BOOST_REQUIRE(store_->Migrate().ok());
    ids_ = FailedWorkflow(*store_, "wf");
  }

  // tm-sidecar ARGS... --store sqlite:PATH
  Run Sidecar(std::vector<std::string> args) {
    args.push_back("--store");
    args.push_back("sqlite:" + path_);
    return RunMain(std::move(args));
  }

  WorkflowState State() { return std::move(store_->LoadWorkflowState("wf")).value(); }

  std::string File(const std::string& name, const std::string& text) {
    const std::string path = tmp_ / name;
    test_support::WriteFile(path, text);
    return path;
  }

  test_support::TempDir tmp_;
  std::string path_;
  std::unique_ptr<StateStore> store_;
  std::vector<std::string> ids_;
};

BOOST_FIXTURE_TEST_SUITE(requeue_commands, RequeueFixture)

BOOST_AUTO_TEST_CASE(export_failed_prints_a_line_per_task_that_failed_for_good) {
  Run r = Sidecar({"export-failed", "wf"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK_EQUAL(r.out,
                    R"({"task":"task/1","ordinal":1,"status":"failed","attempts":2,"failures":2,)"
                    R"("fingerprint":"3:exit status <n>: took <n> ms","exit_code":3,)"
                    R"("last_error":"exit status 3: took 11 ms","generation":0})"
                    "\n"
                    R"({"task":"task/2","ordinal":2,"status":"failed","attempts":2,"failures":2,)"
                    R"("fingerprint":"3:exit status <n>: took <n> ms","exit_code":3,)"
                    R"("last_error":"exit status 3: took 11 ms","generation":0})"
                    "\n");
  r = Sidecar({"export-failed", "no-such-workflow"});
  BOOST_CHECK_EQUAL(r.code, 2);
  BOOST_CHECK(r.err.find("never initialized") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(dry_run_says_what_it_would_do_and_changes_nothing) {
  const WorkflowState before = State();
  Run r = Sidecar({"requeue", "wf", "--dry-run"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK_EQUAL(r.out,
                    "workflow wf is failed: 2 tasks would become pending (task/1, task/2); it "
                    "would become running; nothing changed (--dry-run)\n");
  CheckSameState(State(), before, true);
  const std::string exported = Sidecar({"export-failed", "wf"}).out;
  BOOST_CHECK_EQUAL(std::count(exported.begin(), exported.end(), '\n'), 2);
}

BOOST_AUTO_TEST_CASE(requeue_from_an_export_makes_those_tasks_pending) {
  const std::string exported = Sidecar({"export-failed", "wf"}).out;
  // Only the first exported task.
  const std::string file = File("failed.jsonl", exported.substr(0, exported.find('\n') + 1));
  Run r = Sidecar({"requeue", "wf", "--from", file});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK_EQUAL(r.out,
                    "workflow wf was failed: 1 tasks are pending again (task/1); it is running "
                    "now; resubmit under the same state key to run them\n");
  const WorkflowState after = State();
  BOOST_CHECK_EQUAL(ToString(after.status), "running");
  BOOST_CHECK_EQUAL(after.counts.failed, 1);
  BOOST_CHECK_EQUAL(after.counts.pending, 1);
  r = Sidecar({"export-failed", "wf"});
  BOOST_CHECK(r.out.find(R"({"task":"task/2",)") == 0);
  BOOST_CHECK_EQUAL(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  // The same file again: task/1 is pending now, so nothing is written.
  r = Sidecar({"requeue", "wf", "--from", file, "--force"});
  BOOST_CHECK_EQUAL(r.code, 2);
  BOOST_CHECK(r.err.find("task 'task/1' is pending, not failed for good") != std::string::npos);
  CheckSameState(State(), after, true);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_with_exit_2_and_writes_nothing) {
  const WorkflowState before = State();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"requeue", "wf", "--status", "bogus"}, "--status"},
      {{"requeue", "wf", "--from", tmp_ / "missing.jsonl"}, "missing.jsonl: cannot be read"},
      {{"requeue", "wf", "--from", File("bad.jsonl", "not json\n")}, "bad.jsonl line 1: "},
      {{"requeue", "wf", "--from", File("tusk.jsonl", "\n{\"tusk\":\"task/1\"}\n")},
       "tusk.jsonl line 2: "},
      {{"requeue", "wf", "--from", File("empty.jsonl", "\n")}, "empty.jsonl names no task"},
      {{"requeue", "wf", "--from", File("ok.jsonl", "{\"task\":\"task/0\"}\n")},
       "task 'task/0' is succeeded, not failed for good"},
      {{"requeue", "wf", "--from",
        File("mixed.jsonl", "{\"task\":\"task/1\"}\n{\"task\":\"nope\"}\n")},
       "has no task 'nope'"},
      {{"requeue", "no-such-workflow"}, "never initialized"},
  };
  for (const Case& c : cases) {
    Run r = Sidecar(c.args);
    BOOST_CHECK_EQUAL(r.code, 2);
    BOOST_CHECK_MESSAGE(r.err.find(c.message) != std::string::npos, c.args.back() << ": " << r.err);
    BOOST_CHECK_EQUAL(r.out, "");
  }
  CheckSameState(State(), before, true);
}

BOOST_AUTO_TEST_CASE(a_workflow_with_tasks_left_to_run_is_refused_unless_forced) {
  conformance::InitWorkflow(*store_, "busy", conformance::TaskIds(2), 2);
  conformance::TestWriter shard(*store_, "busy", protocol::Role::kShard, 0);
  Batch b = shard.NewBatch();
  shard.Start(&b, 0, "task/0");
  shard.End(&b, 0, "task/0", TaskStatus::kFailed, true, 1, "boom");
  BOOST_REQUIRE(store_->Apply(b).ok());
  Run r = Sidecar({"requeue", "busy", "--dry-run"});
  BOOST_CHECK_EQUAL(r.code, 2);
  BOOST_CHECK_MESSAGE(r.err.find("workflow 'busy' is running with 0 running and 1 pending "
                                 "tasks") != std::string::npos,
                      r.err);
  r = Sidecar({"requeue", "busy"});
  BOOST_CHECK_EQUAL(r.code, 2);
  r = Sidecar({"requeue", "busy", "--force"});
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK(r.out.find("1 tasks are pending again (task/0)") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
