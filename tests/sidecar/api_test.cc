// Api::Handle without a server: requests answered against a SQLite store in a
// temp dir, on a clock that stands still, so every answer is compared whole.
#include "api.h"

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cache/live_cache.h"
#include "fake_clock_env.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace taskmaster::sidecar {
namespace {

using test_support::TempDir;

// A store whose every operation fails with `status`.
class FailingStore final : public StateStore {
 public:
  explicit FailingStore(Status status) : status_(std::move(status)) {}
  Status Migrate() override { return status_; }
  Status CheckSchema() override { return status_; }
  Result<int64_t> AcquireFence(const Writer&) override { return status_; }
  Result<protocol::InitRestore> LoadInit(const std::string&) override { return status_; }
  Result<ShardData> LoadShard(const std::string&, int64_t) override { return status_; }
  Result<protocol::WorkflowSummary> LoadSummary(const std::string&) override { return status_; }
  Result<WorkflowState> LoadWorkflowState(const std::string&) override { return status_; }
  Result<std::map<std::string, std::string>> LoadCheckpoints(const std::string&) override {
    return status_;
  }
  Result<TaskPage> ListTasks(const std::string&, const TaskQuery&) override { return status_; }
  Result<TaskHistory> LoadTaskHistory(const std::string&, const std::string&) override {
    return status_;
  }
  Result<std::map<int64_t, int64_t>> LoadShardFences(const std::string&) override {
    return status_;
  }
  Result<ApplyResult> Apply(const Batch&) override { return status_; }
  Result<RequeueResult> Requeue(const std::string&, const RequeueRequest&) override {
    return status_;
  }
  Result<std::vector<std::string>> DeleteFinishedBefore(int64_t) override { return status_; }

 private:
  Status status_;
};

class ApiFixture {
 public:
  ApiFixture() : tmp_("tm-api") {
    auto store = OpenSqliteStore(tmp_ / "tm.db", &env_);
    BOOST_REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    store_ = std::move(store).value();
    BOOST_REQUIRE(store_->Migrate().ok());
  }

  // An Api on this fixture's store whose generated state keys are `key`.
  std::unique_ptr<Api> NewApi(LiveCache* cache = nullptr, const std::string& key = "generated") {
    return std::make_unique<Api>(&env_, store_.get(), cache, &metrics_, "sqlite",
                                 [key] { return Result<std::string>(key); });
  }

  FakeClockEnv env_;
  TempDir tmp_;
  std::unique_ptr<StateStore> store_;
  Metrics metrics_;
};

void CheckAnswer(const ApiResponse& r, int status, const std::string& body) {
  BOOST_CHECK_EQUAL(r.status, status);
  BOOST_CHECK_EQUAL(r.body, body);
}

std::string Error(int status, const std::string& message) {
  return "{\"error\":\"" + message + "\",\"status\":" + std::to_string(status) + "}";
}

// A GET answered with an error.
struct GetError {
  const char* path;
  int status;
  const char* message;
};

void CheckGetErrors(Api& api, const std::vector<GetError>& errors) {
  for (const GetError& e : errors) {
    BOOST_TEST_CONTEXT("GET " << e.path) {
      CheckAnswer(api.Handle("GET", e.path, ""), e.status, Error(e.status, e.message));
    }
  }
}

std::string Header(const ApiResponse& r, const std::string& name) {
  for (const auto& [n, value] : r.headers) {
    if (n == name) return value;
  }
  return "";
}

const char* const kSubmit = "/api/workflows/multi-task";
const char* const kArgo = "argo submit workflows/multi-task-processing.yaml -p state-key=";

BOOST_FIXTURE_TEST_SUITE(api, ApiFixture)

BOOST_AUTO_TEST_CASE(a_submitted_list_is_recorded_and_answered_as_init_would) {
  auto api = NewApi();
  const ApiResponse created =
      api->Handle("POST", kSubmit, R"({"task_list": ["a", "b", "c"], "state_key": "wf-1"})");
  CheckAnswer(created, 201,
              std::string(R"({"workflow_id":"wf-1","status":"pending","total":3,"batch_size":1,)") +
                  R"("submit":")" + kArgo + "wf-1" + "\"}");
  BOOST_CHECK_EQUAL(Header(created, "Location"), "/api/workflows/wf-1");
  BOOST_CHECK_EQUAL(metrics_.store_up("sqlite").Value(), 1);

  // The same request again: answered with what is recorded.
  const ApiResponse again =
      api->Handle("POST", kSubmit, R"({"task_list": ["a", "b", "c"], "state_key": "wf-1"})");
  BOOST_CHECK_EQUAL(again.status, 200);
  BOOST_CHECK_EQUAL(again.body, created.body);
  BOOST_CHECK(again.headers.empty());

  CheckAnswer(api->Handle("GET", "/api/workflows/wf-1/progress?watch=1", ""), 200,
              R"({"workflow_id":"wf-1","status":"pending","total":3,"succeeded":0,"failed":0,)"
              R"("running":0,"pending":3,"cancelled":0,"done":0,"percent":0.0,"rate":0.0,)"
              R"("eta_seconds":null,"created_at":"2026-01-01T00:00:00.000Z",)"
              R"("updated_at":"2026-01-01T00:00:00.000Z","source":"store"})");
  CheckAnswer(api->Handle("HEAD", "/api/workflows/wf-1/failed", ""), 200,
              R"({"workflow_id":"wf-1","failed_total":0,"failed":[]})");
  const ApiResponse state = api->Handle("GET", "/api/workflows/wf-1", "");
  BOOST_CHECK_EQUAL(state.status, 200);
  BOOST_CHECK_EQUAL(state.body, WorkflowStateToJson(*store_->LoadWorkflowState("wf-1")));
}

BOOST_AUTO_TEST_CASE(a_resubmission_that_differs_is_refused) {
  auto api = NewApi();
  BOOST_REQUIRE_EQUAL(
      api->Handle("POST", kSubmit, R"({"task_list": ["a", "b"], "state_key": "wf"})").status, 201);
  const auto recorded = store_->LoadWorkflowState("wf");
  BOOST_REQUIRE(recorded.ok());
  CheckAnswer(api->Handle("POST", kSubmit, R"({"task_list": ["a", "c"], "state_key": "wf"})"), 409,
              Error(409, "state key wf already holds a different task list (2 tasks, " +
                             protocol::ListHash({"a", "b"}) + "; given 2 tasks, " +
                             protocol::ListHash({"a", "c"}) + "): use a new state_key"));
  CheckAnswer(api->Handle("POST", kSubmit,
                          R"({"task_list": ["a", "b"], "batch_size": 2, "state_key": "wf"})"),
              409, Error(409, "state key wf was recorded with batch_size 1, not 2"));
  // Nothing written: the same list and workflow, and the init fence was not
  // taken (the next one is the second, after the first submission's).
  auto init = store_->LoadInit("wf");
  BOOST_REQUIRE(init.ok());
  BOOST_CHECK_EQUAL(init->list_hash, protocol::ListHash({"a", "b"}));
  BOOST_CHECK_EQUAL(init->batch_size, 1);
  BOOST_CHECK_EQUAL(store_->LoadWorkflowState("wf")->version, recorded->version);
  BOOST_CHECK_EQUAL(*store_->AcquireFence(Writer{"wf", protocol::Role::kInit, 0}), 2);
}

BOOST_AUTO_TEST_CASE(a_generated_key_and_a_batch_size_are_in_the_answer) {
  auto api = NewApi(nullptr, "7d444840-9dc0-41d3-8b57-e2d69b8b95e0");
  const ApiResponse created =
      api->Handle("POST", kSubmit, R"({"task_list": ["a", "b", "c"], "batch_size": 2})");
  CheckAnswer(created, 201,
              std::string(R"({"workflow_id":"7d444840-9dc0-41d3-8b57-e2d69b8b95e0",)") +
                  R"("status":"pending","total":3,"batch_size":2,"submit":")" + kArgo +
                  "7d444840-9dc0-41d3-8b57-e2d69b8b95e0\"}");
}

BOOST_AUTO_TEST_CASE(state_keys_are_percent_encoded_in_locations_and_quoted_for_the_shell) {
  auto api = NewApi();
  const std::string key = "team/a b~c:d'e";
  const ApiResponse created =
      api->Handle("POST", kSubmit, R"({"task_list": ["a"], "state_key": ")" + key + "\"}");
  BOOST_REQUIRE_EQUAL(created.status, 201);
  BOOST_CHECK_EQUAL(Header(created, "Location"), "/api/workflows/team%2Fa%20b~c%3Ad%27e");
  BOOST_CHECK(created.body.find(R"(state-key='team/a b~c:d'\\''e'"})") != std::string::npos);
  // The path's escapes are decoded, in either case.
  BOOST_CHECK_EQUAL(api->Handle("GET", "/api/workflows/team%2fa%20b~c%3Ad%27e", "").status, 200);
  BOOST_CHECK_EQUAL(api->Handle("GET", "/api/workflows/team%2Fa%20b~c:d'e/progress", "").status,
                    200);
}

BOOST_AUTO_TEST_CASE(malformed_escapes_are_named_by_their_byte) {
  auto api = NewApi();
  CheckGetErrors(
      *api,
      {{"/api/workflows/a%2/progress", 400, "malformed percent-encoding in the path at byte 1"},
       {"/api/workflows/ok%41%zz", 400, "malformed percent-encoding in the path at byte 5"},
       {"/api/workflows/%%41", 400, "malformed percent-encoding in the path at byte 0"},
       {"/api/workflows/%41%42", 404, "workflow 'AB' not found"}});
}

BOOST_AUTO_TEST_CASE(unknown_paths_methods_and_workflows) {
  auto api = NewApi();
  CheckGetErrors(*api, {{"/api/nothing-here", 404, "no such endpoint: /api/nothing-here"},
                        {"/api/workflows/", 404, "no such endpoint: /api/workflows/"},
                        {"/api/workflows/nope/failed", 404, "workflow 'nope' not found"}});
  const ApiResponse deleted = api->Handle("DELETE", "/api/workflows/nope", "");
  CheckAnswer(deleted, 405, Error(405, "method DELETE not allowed here; allowed: GET, HEAD"));
  BOOST_CHECK_EQUAL(Header(deleted, "Allow"), "GET, HEAD");
  const ApiResponse put = api->Handle("PUT", kSubmit, "{}");
  CheckAnswer(put, 405, Error(405, "method PUT not allowed here; allowed: GET, HEAD, POST"));
  BOOST_CHECK_EQUAL(Header(put, "Allow"), "GET, HEAD, POST");
}

BOOST_AUTO_TEST_CASE(bad_request_bodies) {
  auto api = NewApi();
  CheckAnswer(api->Handle("POST", kSubmit, R"({"tasks": ["a"]})"), 400,
              Error(400,
                    "request body: unknown field 'tasks' (expected task_list, batch_size, "
                    "state_key)"));
  CheckAnswer(api->Handle("POST", kSubmit, R"({"batch_size": 2})"), 400,
              Error(400, "request body: field 'task_list' is required"));
  CheckAnswer(api->Handle("POST", kSubmit, R"({"task_list": ["a"], "batch_size": 0})"), 400,
              Error(400, "batch_size must be an integer of at least 1"));
  CheckAnswer(api->Handle("POST", kSubmit, "[]"), 400,
              Error(400, R"(request body: expected a JSON object with \"task_list\")"));
}

BOOST_AUTO_TEST_CASE(a_store_that_fails_is_503_when_it_may_pass_else_500_and_counted) {
  FailingStore down(Status::Unavailable("connection refused"));
  Api api(&env_, &down, nullptr, &metrics_, "postgres");
  CheckAnswer(api.Handle("GET", "/api/workflows/wf/progress", ""), 503,
              Error(503, "store unavailable: connection refused"));
  BOOST_CHECK_EQUAL(metrics_.store_errors_total("postgres", "unavailable").Value(), 1);
  BOOST_CHECK_EQUAL(metrics_.store_up("postgres").Value(), 0);

  FailingStore corrupt(Status::Corruption("bad row"));
  Api broken(&env_, &corrupt, nullptr, &metrics_, "postgres");
  CheckAnswer(broken.Handle("GET", "/api/workflows/wf", ""), 500,
              Error(500, "store error: bad row"));
  BOOST_CHECK_EQUAL(metrics_.store_errors_total("postgres", "corruption").Value(), 1);
}

BOOST_AUTO_TEST_CASE(progress_falls_back_to_the_store_while_redis_cannot_be_reached) {
  RedisConfig config;
  config.unix_path = tmp_ / "no-redis.sock";
  LiveCache cache(config);
  auto api = NewApi(&cache);
  BOOST_REQUIRE_EQUAL(
      api->Handle("POST", kSubmit, R"({"task_list": ["a"], "state_key": "wf"})").status, 201);
  const ApiResponse progress = api->Handle("GET", "/api/workflows/wf/progress", "");
  BOOST_CHECK_EQUAL(progress.status, 200);
  BOOST_CHECK(progress.body.find(R"("source":"store")") != std::string::npos);
  BOOST_CHECK_EQUAL(metrics_.store_up("redis").Value(), 0);
  // The publish at submit and the read, each counted.
  BOOST_CHECK_EQUAL(metrics_.store_errors_total("redis", "unavailable").Value(), 2);
}

BOOST_AUTO_TEST_CASE(generated_state_keys_are_random_uuid_v4) {
  auto first = NewUuidV4();
  auto second = NewUuidV4();
  BOOST_REQUIRE(first.ok() && second.ok());
  BOOST_CHECK_NE(*first, *second);
  const std::string& key = *first;
  BOOST_REQUIRE_EQUAL(key.size(), 36u);
  for (size_t i = 0; i < key.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      BOOST_CHECK_EQUAL(key[i], '-');
    } else {
      BOOST_CHECK_MESSAGE(std::isxdigit(static_cast<unsigned char>(key[i])) &&
                              !std::isupper(static_cast<unsigned char>(key[i])),
                          key);
    }
  }
  BOOST_CHECK_EQUAL(key[14], '4');                                      // version 4
  BOOST_CHECK(std::string("89ab").find(key[19]) != std::string::npos);  // RFC 4122 variant
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
