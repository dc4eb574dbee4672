// `tm-sidecar api` (DESIGN.md §7, §8) driven with the seed's own commands:
//
//   curl -X POST http://localhost:8080/api/workflows/multi-task
//     -H "Content-Type: application/json" -d '{"task_list": ["task-1", "task-2", "task-3"]}'
//   curl -s http://localhost:8080/api/workflows/uuid-123/progress | jq '.'
//
// A workflow submitted over the API is recorded as init records it, so the Argo
// workflow started with its state key alone (the answer's `argo submit`) runs
// it: init records nothing new and hands out every shard; the shards' progress
// shows up in the API.
#include <boost/test/unit_test.hpp>

#include "api_client.h"
#include "harness.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {
namespace {

namespace pr = protocol;

const std::vector<std::string> kSeedTasks = {"task-1", "task-2", "task-3"};
const char* kSeedBody = R"({"task_list": ["task-1", "task-2", "task-3"]})";

// The seed's POST, Argo's init on the same key and list (a resume), the
// shards, and the seed's progress command.
void SubmitResumeAndWatch(const StoreSpec& store, bool redis) {
  TempDir tmp;
  ApiServer api(tmp.path(), store);

  // The seed's command as written, with -s and the status code added.
  CurlResult posted = Curl("-X POST " + api.Url("/api/workflows/multi-task") +
                           " -H \"Content-Type: application/json\" -d " + ShellQuote(kSeedBody));
  BOOST_REQUIRE_MESSAGE(posted.status == 201, posted.status << ": " << posted.body << "\n"
                                                            << api.Logs());
  rapidjson::Document created = Parse(posted.body);
  const std::string key = Str(created, "workflow_id");
  // A generated UUID v4.
  BOOST_CHECK_EQUAL(key.size(), 36u);
  BOOST_CHECK_EQUAL(key[14], '4');
  BOOST_CHECK_EQUAL(Str(created, "status"), "pending");
  BOOST_CHECK_EQUAL(Int(created, "total"), 3);
  BOOST_CHECK_EQUAL(Int(created, "batch_size"), 1);
  // The command that runs it: the state key alone, the list stays in the store.
  BOOST_CHECK_EQUAL(Str(created, "submit"),
                    "argo submit workflows/multi-task-processing.yaml -p state-key=" + key);
  if (redis) {
    rapidjson::Document live = Parse(RedisCli("GET " + ShellQuote("workflow:state:" + key)));
    BOOST_CHECK_EQUAL(Str(live, "status"), "pending");
    BOOST_CHECK_EQUAL(Int(live, "total"), 3);
  }

  // Argo's init for that command (task-list empty): a resume that records nothing.
  Workflow wf(tmp.path(), key, store);
  Pod init(wf.NewPodDir("init"), wf.Spec("init"));
  init.StartSidecar();
  init.StartStep({"init", "--task-list", "", "--batch-size", "1"});
  BOOST_REQUIRE_MESSAGE(init.WaitStep() == 0, init.Logs());
  BOOST_REQUIRE_EQUAL(init.StopSidecar(), 0);
  BOOST_CHECK_EQUAL(ReadFile(init.work("outputs/shards")), "[0,1,2]\n");
  BOOST_CHECK_MESSAGE(
      ReadFile(init.work("outputs/summary")).find("\"resumed\":true") != std::string::npos,
      ReadFile(init.work("outputs/summary")));
  // The commit record alone: no workflow_init, no task_list.
  BOOST_CHECK_EQUAL(ReadJournal(init.work("journal")).records, 1);

  // task-3 fails for good (exit 7) on its only attempt: its step exits 4.
  for (int64_t shard = 0; shard < 3; ++shard) {
    PodResult r = wf.Shard(shard, Sh(R"([ "$TM_TASK_ID" != task-3 ] || exit 7)"));
    BOOST_REQUIRE_MESSAGE(r.sidecar == 0 && r.step == (shard == 2 ? pr::kExitFailedForGood : 0),
                          r.logs);
  }

  const std::string progress_path = "/api/workflows/" + key + "/progress";
  std::string last;
  const bool complete = WaitUntil(
      [&] {
        auto r = HttpGet(api.port(), progress_path);
        last = r ? r->body : "(no answer)";
        return r && r->status == 200 && last.find("\"percent\":100") != std::string::npos;
      },
      milliseconds(10000));
  BOOST_REQUIRE_MESSAGE(complete, "progress never reached 100%: " << last << "\n" << api.Logs());

  // watch "curl -s http://localhost:8080/api/workflows/uuid-123/progress | jq '.'"
  ShellResult watched = Shell("curl -s " + api.Url(progress_path) + " | jq '.'", true);
  BOOST_REQUIRE_MESSAGE(watched.exit_code == 0, watched.out);
  rapidjson::Document progress = Parse(watched.out);
  BOOST_CHECK_EQUAL(Str(progress, "workflow_id"), key);
  BOOST_CHECK_EQUAL(Str(progress, "status"), "failed");
  BOOST_CHECK_EQUAL(Int(progress, "total"), 3);
  BOOST_CHECK_EQUAL(Int(progress, "succeeded"), 2);
  BOOST_CHECK_EQUAL(Int(progress, "failed"), 1);
  BOOST_CHECK_EQUAL(Int(progress, "done"), 3);
  BOOST_CHECK_EQUAL(progress["percent"].GetDouble(), 100.0);
  BOOST_CHECK(progress["rate"].IsNumber() && progress["rate"].GetDouble() > 0);
  BOOST_CHECK_EQUAL(Int(progress, "eta_seconds"), 0);
  BOOST_CHECK(progress.HasMember("updated_at"));
  BOOST_CHECK_EQUAL(Str(progress, "source"), redis ? "redis" : "store");

  CurlResult state = Curl(api.Url("/api/workflows/" + key));
  BOOST_CHECK_EQUAL(state.status, 200);
  rapidjson::Document state_doc = Parse(state.body);
  BOOST_CHECK_EQUAL(Str(state_doc, "workflow_id"), key);
  BOOST_CHECK_EQUAL(Int(state_doc, "succeeded"), 2);

  CurlResult failed = Curl(api.Url("/api/workflows/" + key + "/failed"));
  BOOST_CHECK_EQUAL(failed.status, 200);
  rapidjson::Document failed_doc = Parse(failed.body);
  BOOST_CHECK_EQUAL(Int(failed_doc, "failed_total"), 1);
  BOOST_REQUIRE(failed_doc["failed"].IsArray() && failed_doc["failed"].Size() == 1);
  BOOST_CHECK_EQUAL(failed_doc["failed"][0]["task_id"].GetString(), std::string("task-3"));
  BOOST_CHECK_EQUAL(failed_doc["failed"][0]["exit_code"].GetInt(), 7);

  // The same submission again: the existing workflow, not a new one.
  CurlResult again = Curl(
      "-X POST " + api.Url("/api/workflows/multi-task") +
      " -H 'Content-Type: application/json' -d " +
      ShellQuote(R"({"task_list": ["task-1", "task-2", "task-3"], "state_key": ")" + key + "\"}"));
  BOOST_CHECK_EQUAL(again.status, 200);
  BOOST_CHECK_EQUAL(Str(Parse(again.body), "status"), "failed");

  BOOST_CHECK_EQUAL(api.Stop(), 0);
}

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(seed_submit_resumed_by_init_and_watched_on_sqlite) {
  TempDir db;
  SubmitResumeAndWatch(SqliteStore(db / "state.db"), /*redis=*/false);
}

BOOST_AUTO_TEST_CASE(seed_submit_resumed_by_init_and_watched_on_postgres_and_redis) {
  SubmitResumeAndWatch(PostgresStore(/*with_redis=*/true), /*redis=*/true);
}

BOOST_AUTO_TEST_CASE(errors_are_json_with_a_status_code) {
  TempDir tmp;
  ApiServer api(tmp.path(), SqliteStore(tmp / "state.db"));
  const std::string submit = api.Url("/api/workflows/multi-task");
  auto post = [&](const std::string& body) {
    return Curl("-X POST " + submit + " -H 'Content-Type: application/json' -d " +
                ShellQuote(body));
  };

  CheckError(post(R"({"task_list": ["task-1", )"), 400, "request body: invalid JSON at byte");
  CheckError(post(R"({"task_list": []})"), 400, "task list: is empty");
  CheckError(post(R"({"task_list": ["a", "a"]})"), 400, "duplicate task ID \"a\"");
  CheckError(post(R"({"task_list": "task-1"})"), 400, "task list:");
  CheckError(post(R"({"tasks": ["a"]})"), 400, "unknown field 'tasks'");
  CheckError(post(R"({"batch_size": 2})"), 400, "'task_list' is required");
  CheckError(post(R"({"task_list": ["a"], "batch_size": 0})"), 400, "batch_size");
  CheckError(post(R"({"task_list": ["a"], "state_key": ""})"), 400, "state key is empty");

  // A state key with '/' and a space: %-encoded in paths.
  const std::string key = "team/" + UniqueKey("api") + " x";
  CurlResult first = post(R"({"task_list": ["a", "b"], "state_key": ")" + key + "\"}");
  BOOST_REQUIRE_MESSAGE(first.status == 201, first.body << "\n" << api.Logs());
  std::string encoded;
  for (char c : key) encoded += c == '/' ? "%2F" : c == ' ' ? "%20" : std::string(1, c);
  BOOST_CHECK_EQUAL(Curl(api.Url("/api/workflows/" + encoded + "/progress")).status, 200);
  // A different list or batch size for the key: 409 naming both hashes, nothing written.
  const std::string before = StoredRows(SqliteStore(tmp / "state.db"), key);
  CheckError(post(R"({"task_list": ["a", "c"], "state_key": ")" + key + "\"}"), 409,
             "already holds a different task list (2 tasks, " + pr::ListHash({"a", "b"}) +
                 "; given 2 tasks, " + pr::ListHash({"a", "c"}) + "): use a new state_key");
  CheckError(post(R"({"task_list": ["a", "b"], "batch_size": 2, "state_key": ")" + key + "\"}"),
             409, "batch_size 1, not 2");
  BOOST_CHECK_EQUAL(StoredRows(SqliteStore(tmp / "state.db"), key), before);

  CheckError(Curl(api.Url("/api/workflows/no-such-workflow/progress")), 404, "not found");
  CheckError(Curl(api.Url("/api/workflows/no-such-workflow")), 404, "not found");
  CheckError(Curl(api.Url("/api/workflows/no-such-workflow/failed")), 404, "not found");
  CheckError(Curl(api.Url("/api/nothing-here")), 404, "no such endpoint");
  CheckError(Curl("-X DELETE " + api.Url("/api/workflows/" + encoded)), 405, "not allowed");
  CheckError(Curl("-X PUT " + submit), 405, "not allowed");

  // Over the bound: refused from the header, before any of the body is read.
  auto big = HttpExchange(api.port(),
                          "POST /api/workflows/multi-task HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: application/json\r\nContent-Length: 67108865\r\n\r\n");
  BOOST_REQUIRE(big.has_value());
  BOOST_CHECK_EQUAL(big->status, 413);
  BOOST_CHECK(big->body.find("\"status\":413") != std::string::npos);
  auto unsized = HttpExchange(api.port(),
                              "POST /api/workflows/multi-task HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  BOOST_REQUIRE(unsized.has_value());
  BOOST_CHECK_EQUAL(unsized->status, 411);

  // The sidecar's endpoints are served alongside.
  BOOST_CHECK_EQUAL(Curl(api.Url("/healthz")).status, 200);
  BOOST_CHECK_EQUAL(Curl(api.Url("/readyz")).status, 200);
  CurlResult metrics = Curl(api.Url("/metrics"));
  BOOST_CHECK_EQUAL(metrics.status, 200);
  BOOST_CHECK_EQUAL(MetricValue(metrics.body, "store_up{store=\"sqlite\"}").value_or(-1), 1);

  BOOST_CHECK_EQUAL(api.Stop(), 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
