// GET /api/workflows/<id>/tasks and .../tasks/<task> through Api::Handle, on a
// SQLite store in a temp dir.
#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>

#include "api.h"
#include "fake_clock_env.h"
#include "store/sqlite_store.h"
#include "store/store_conformance.h"
#include "support/temp_dir.h"
#include "task_json.h"

namespace taskmaster::sidecar {
namespace {

using conformance::InitWorkflow;
using conformance::TestWriter;

class TasksFixture {
 public:
  TasksFixture() : tmp_("tm-api-tasks") {
    store_ = std::move(OpenSqliteStore(tmp_ / "tm.db", &env_)).value();
    BOOST_REQUIRE(store_->Migrate().ok());
    InitWorkflow(*store_, "wf/1", {"a", "b/1", "c"}, 3);
    TestWriter w(*store_, "wf/1", protocol::Role::kShard, 0);
    Batch b = w.NewBatch();
    b.pod = "pod-0";
    w.Start(&b, 1, "b/1");
    w.End(&b, 1, "b/1", TaskStatus::kFailed, true, 3, "bad");
    BOOST_REQUIRE(store_->Apply(b).ok());
    api_ = std::make_unique<Api>(&env_, store_.get(), nullptr, &metrics_, "sqlite");
  }

  std::string Body(const std::string& target, int want_status) {
    const ApiResponse r = api_->Handle("GET", target, "");
    BOOST_CHECK_EQUAL(r.status, want_status);
    return r.body;
  }

  FakeClockEnv env_;
  test_support::TempDir tmp_;
  std::unique_ptr<StateStore> store_;
  Metrics metrics_;
  std::unique_ptr<Api> api_;
};

BOOST_FIXTURE_TEST_SUITE(api_tasks, TasksFixture)

BOOST_AUTO_TEST_CASE(pages_of_tasks_are_the_stores_pages) {
  TaskQuery q;
  q.limit = 2;
  BOOST_CHECK_EQUAL(Body("/api/workflows/wf%2F1/tasks?limit=2", 200),
                    TaskPageJson("wf/1", *store_->ListTasks("wf/1", q)));
  q.after = 1;
  BOOST_CHECK_EQUAL(Body("/api/workflows/wf%2F1/tasks?limit=2&after=1", 200),
                    TaskPageJson("wf/1", *store_->ListTasks("wf/1", q)));
  const std::string failed = Body("/api/workflows/wf%2F1/tasks?status=failed", 200);
  BOOST_CHECK(failed.find(R"("tasks":[{"ordinal":1,"task_id":"b/1","status":"failed",)") !=
              std::string::npos);
  BOOST_CHECK(failed.find(R"("next_after":null})") != std::string::npos);
  // The failed report is unchanged beside it.
  BOOST_CHECK_EQUAL(
      Body("/api/workflows/wf%2F1/failed", 200),
      R"({"workflow_id":"wf/1","failed_total":1,"failed":[{"task_id":"b/1","exit_code":3,"error":"bad"}]})");
}

BOOST_AUTO_TEST_CASE(a_task_comes_with_its_attempts) {
  const std::string body = Body("/api/workflows/wf%2F1/tasks/b%2F1", 200);
  BOOST_CHECK_EQUAL(body, TaskHistoryJson("wf/1", *store_->LoadTaskHistory("wf/1", "b/1")));
  BOOST_CHECK(body.find(R"("attempts":[{"attempt":1,"fence":1,"shard":0,"step_attempt":0,)"
                        R"("pod":"pod-0",)") != std::string::npos);
  BOOST_CHECK(body.find(R"("outcome":"failed","final":true,"exit_code":3,"error":"bad")") !=
              std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_400_and_unknown_names_404) {
  const std::pair<const char*, const char*> bad[] = {
      {"/api/workflows/wf%2F1/tasks?status=done",
       "status: unknown task status 'done' (use pending, running, succeeded, failed, "
       "interrupted, cancelled or quarantined)"},
      {"/api/workflows/wf%2F1/tasks?limit=-1",
       "limit: '-1' is not a page size (an integer from 1 to 10000)"},
      {"/api/workflows/wf%2F1/tasks?limit=0",
       "limit: '0' is not a page size (an integer from 1 to 10000)"},
      {"/api/workflows/wf%2F1/tasks?limit=99999999999999999999999",
       "limit: '99999999999999999999999' is not a page size (an integer from 1 to 10000)"},
      {"/api/workflows/wf%2F1/tasks?after=t5",
       "after: 't5' is not a task ordinal (a non-negative integer: the next_after of the "
       "previous page)"},
      {"/api/workflows/wf%2F1/tasks?after=-3",
       "after: '-3' is not a task ordinal (a non-negative integer: the next_after of the "
       "previous page)"},
      {"/api/workflows/wf%2F1/tasks?page=2",
       "unknown query parameter 'page' (expected status, limit, after)"},
      {"/api/workflows/wf%2F1/tasks?limit=1&limit=2", "query parameter 'limit' given twice"},
      {"/api/workflows/wf%2F1/tasks/%zz", "malformed percent-encoding in the path at byte 0"},
  };
  for (const auto& [target, message] : bad) {
    BOOST_TEST_CONTEXT(target) {
      BOOST_CHECK_EQUAL(Body(target, 400), ApiError(400, message).body);
    }
  }
  BOOST_CHECK_EQUAL(Body("/api/workflows/nope/tasks", 404),
                    ApiError(404, "workflow 'nope' not found").body);
  BOOST_CHECK_EQUAL(Body("/api/workflows/nope/tasks/a", 404),
                    ApiError(404, "workflow 'nope' not found").body);
  BOOST_CHECK_EQUAL(Body("/api/workflows/wf%2F1/tasks/zz", 404),
                    ApiError(404, "workflow 'wf/1' has no task 'zz'").body);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
