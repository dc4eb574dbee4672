// The list lives in the store, never in the Workflow (issue 10): `tm-sidecar
// submit` records a task list ahead, and the workflow then runs with only its
// state key — init with an empty task-list, as the WorkflowTemplate runs it for
// `argo submit workflows/multi-task-processing.yaml -p state-key=K` — on SQLite
// and on PostgreSQL + Redis; a workflow whose Argo object is gone resumes from
// PostgreSQL alone (Redis empty); and the bad inputs: another list for the key
// (exit 2 naming both hashes, nothing written), a key with no list and no
// task-list (exit 2), a list over the inline limit (exit 2 pointing to submit).
#include <boost/test/unit_test.hpp>

#include "harness.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {
namespace {

namespace pr = protocol;

constexpr const char* kArgoSubmit =
    "argo submit workflows/multi-task-processing.yaml -p state-key=";
// init's arguments in the WorkflowTemplate when task-list is left empty.
const std::vector<std::string> kInitByKey = {"init", "--task-list", "", "--batch-size", "1"};

// Each word shell-quoted, after a space.
std::string Words(const std::vector<std::string>& words) {
  std::string line;
  for (const std::string& word : words) line += " " + ShellQuote(word);
  return line;
}

// A pod whose init refuses: it writes no commit record, so its sidecar stops
// after the grace period less 2 s; a short one keeps the test quick.
PodSpec RefusedInitSpec(const Workflow& wf) {
  PodSpec spec = wf.Spec("init");
  spec.env["TM_GRACE_SECONDS"] = "3";
  return spec;
}

struct Submitted {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// `tm-sidecar submit [store flags] args`, stdout a pipe (so JSON unless -o text).
Submitted Submit(const std::string& dir, const StoreSpec& store,
                 const std::vector<std::string>& args) {
  const std::string err = dir + "/submit.err";
  ShellResult r = Shell(std::string(kSidecarBinary) + " submit" + Words(store.flags) + Words(args) +
                            " 2>" + ShellQuote(err),
                        true);
  return Submitted{r.exit_code, r.out, ReadFile(err)};
}

rapidjson::Document ParseJsonObject(const std::string& text) {
  rapidjson::Document doc;
  Status s = ParseJson(text, "answer", &doc);
  BOOST_REQUIRE_MESSAGE(s.ok() && doc.IsObject(), "not a JSON object: " << text);
  return doc;
}

// An init pod by key alone; its outputs/shards, or fails the test.
std::string InitByKey(Workflow* wf) {
  const std::string dir = wf->NewPodDir("init");
  PodResult init = RunPod(dir, wf->Spec("init"), kInitByKey);
  BOOST_REQUIRE_MESSAGE(init.step == 0 && init.sidecar == 0, init.logs);
  // The list is not recorded again: the commit record is the whole journal.
  BOOST_CHECK_EQUAL(ReadJournal(dir + "/work/journal").records, 1);
  BOOST_CHECK_MESSAGE(
      ReadFile(dir + "/work/outputs/summary").find("\"resumed\":true") != std::string::npos,
      ReadFile(dir + "/work/outputs/summary"));
  return ReadFile(dir + "/work/outputs/shards");
}

void RunShards(Workflow* wf, const std::vector<int64_t>& shards) {
  for (int64_t shard : shards) {
    PodResult r = wf->Shard(shard, Sh("true"));
    BOOST_REQUIRE_MESSAGE(r.step == 0 && r.sidecar == 0, r.logs);
  }
}

// Submit, the same submit again, then the whole workflow by key.
void SubmitThenRunByKey(const StoreSpec& store, bool redis) {
  TempDir tmp;
  // IDs no other run uses, so the default key (from their hash) is new too.
  const std::vector<std::string> ids = TaskIds(UniqueKey("by-key"), 5);
  WriteFile(tmp / "tasks.json", TaskListJson(ids));
  const std::string key = "list-" + pr::ListHash(ids).substr(5);
  const std::vector<std::string> args = {"--task-list", "@" + (tmp / "tasks.json"), "--batch-size",
                                         "2"};

  Submitted first = Submit(tmp.path(), store, args);
  BOOST_REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  BOOST_CHECK_EQUAL(first.out, "{\"workflow_id\":\"" + key +
                                   "\",\"status\":\"pending\",\"total\":5,\"batch_size\":2,"
                                   "\"submit\":\"" +
                                   kArgoSubmit + key + "\"}\n");
  if (redis) {
    rapidjson::Document live =
        ParseJsonObject(RedisCli("GET " + ShellQuote("workflow:state:" + key)));
    BOOST_CHECK_EQUAL(live["status"].GetString(), std::string("pending"));
    BOOST_CHECK_EQUAL(live["total"].GetInt64(), 5);
  }
  const std::string recorded = StoredRows(store, key);
  BOOST_CHECK_MESSAGE(recorded.find(ids[4]) != std::string::npos, recorded);

  // Again, for a person: nothing changes, the same command.
  std::vector<std::string> text_args = args;
  text_args.insert(text_args.end(), {"-o", "text"});
  Submitted again = Submit(tmp.path(), store, text_args);
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_CHECK_MESSAGE(again.out.find("already holds this task list (5 tasks, " + pr::ListHash(ids) +
                                     ", batch size 2; workflow pending): "
                                     "nothing changed.\n") != std::string::npos,
                      again.out);
  BOOST_CHECK_MESSAGE(again.out.find("Start the workflow with:\n  " + std::string(kArgoSubmit) +
                                     key + "\n") != std::string::npos,
                      again.out);
  BOOST_CHECK_EQUAL(StoredRows(store, key), recorded);

  // argo submit ... -p state-key=KEY: the recorded list at its batch size.
  Workflow wf(tmp.path(), key, store);
  BOOST_CHECK_EQUAL(InitByKey(&wf), "[0,1,2]\n");
  RunShards(&wf, {0, 1, 2});
  PodResult fin = wf.Finalize();
  BOOST_REQUIRE_MESSAGE(fin.step == 0 && fin.sidecar == 0, fin.logs);
  ShellResult status =
      Shell(std::string(kSidecarBinary) + " status" + Words(store.flags) + Words({key}), true);
  BOOST_REQUIRE_EQUAL(status.exit_code, 0);
  rapidjson::Document state = ParseJsonObject(status.out);
  BOOST_CHECK_EQUAL(state["status"].GetString(), std::string("succeeded"));
  BOOST_CHECK_EQUAL(state["succeeded"].GetInt64(), 5);
  if (redis) {
    rapidjson::Document live =
        ParseJsonObject(RedisCli("GET " + ShellQuote("workflow:state:" + key)));
    BOOST_CHECK_EQUAL(live["succeeded"].GetInt64(), 5);
  }
}

// Another list, or another batch size, under a recorded key: exit 2 naming
// both hashes (or both sizes), and not a row changed.
void AnotherListIsRefused(const StoreSpec& store) {
  TempDir tmp;
  const std::string key = UniqueKey("other-list");
  const std::vector<std::string> a = {"a", "b", "c"};
  const std::vector<std::string> b = {"a", "b", "d"};
  Submitted first = Submit(tmp.path(), store, {"--task-list", TaskListJson(a), "--state-key", key});
  BOOST_REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  const std::string before = StoredRows(store, key);

  Submitted other = Submit(tmp.path(), store, {"--task-list", TaskListJson(b), "--state-key", key});
  BOOST_CHECK_EQUAL(other.exit_code, pr::kExitUsage);
  BOOST_CHECK_MESSAGE(other.err.find("state key " + key +
                                     " already holds a different task list (3 "
                                     "tasks, " +
                                     pr::ListHash(a) + "; given 3 tasks, " + pr::ListHash(b) +
                                     "): nothing written") != std::string::npos,
                      other.err);
  BOOST_CHECK(other.out.empty());

  Submitted batch = Submit(
      tmp.path(), store, {"--task-list", TaskListJson(a), "--state-key", key, "--batch-size", "2"});
  BOOST_CHECK_EQUAL(batch.exit_code, pr::kExitUsage);
  BOOST_CHECK_MESSAGE(
      batch.err.find("recorded with --batch-size 1, not 2: nothing written") != std::string::npos,
      batch.err);
  BOOST_CHECK_EQUAL(StoredRows(store, key), before);
}

// init by key where nothing is recorded: exit 2 saying what to do; no workflow.
void KeyWithoutAListIsRefused(const StoreSpec& store) {
  TempDir tmp;
  const std::string key = UniqueKey("no-list");
  Workflow wf(tmp.path(), key, store);
  PodResult init = RunPod(wf.NewPodDir("init"), RefusedInitSpec(wf), kInitByKey);
  BOOST_CHECK_EQUAL(init.step, pr::kExitUsage);
  BOOST_CHECK_EQUAL(init.sidecar, 0);
  BOOST_CHECK_MESSAGE(init.logs.find("state key " + key +
                                     " has none recorded: record one with "
                                     "`tm-sidecar submit --task-list @FILE --state-key " +
                                     key + "`") != std::string::npos,
                      init.logs);
  const std::string rows = StoredRows(store, key);
  BOOST_CHECK_MESSAGE(rows.find("workflow_states:\ntask_states:\ncheckpoints:\n") == 0, rows);
}

BOOST_AUTO_TEST_SUITE(submit)

BOOST_AUTO_TEST_CASE(submit_then_run_by_key_on_sqlite) {
  TempDir db;
  SubmitThenRunByKey(SqliteStore(db / "state.db"), /*redis=*/false);
}

BOOST_AUTO_TEST_CASE(submit_then_run_by_key_on_postgres_and_redis) {
  SubmitThenRunByKey(PostgresStore(/*with_redis=*/true), /*redis=*/true);
}

// The Argo object deleted (or TTL'd) mid-run, and the live view with it: the
// same `argo submit ... -p state-key=K` resumes from PostgreSQL alone, and the
// sidecars fill Redis again.
BOOST_AUTO_TEST_CASE(a_workflow_resumes_from_postgres_alone) {
  TempDir tmp;
  // A Redis database of its own, so that emptying it touches no other test.
  std::string redis_url = RedisUrl();
  redis_url = redis_url.substr(0, redis_url.rfind('/')) + "/7";
  auto redis = [&](const std::string& args) {
    ShellResult r = Shell("redis-cli -u " + ShellQuote(redis_url) + " " + args, true);
    BOOST_REQUIRE_EQUAL(r.exit_code, 0);
    return r.out;
  };
  redis("FLUSHDB");
  const StoreSpec store{{"--postgres", PostgresDsn(), "--redis", redis_url}};
  const std::string key = UniqueKey("pg-alone");
  const std::vector<std::string> ids = TaskIds("t", 4);
  Submitted submitted =
      Submit(tmp.path(), store,
             {"--task-list", TaskListJson(ids), "--batch-size", "2", "--state-key", key});
  BOOST_REQUIRE_MESSAGE(submitted.exit_code == 0, submitted.err);
  Workflow wf(tmp.path(), key, store);
  BOOST_REQUIRE_EQUAL(InitByKey(&wf), "[0,1]\n");
  RunShards(&wf, {0});

  redis("FLUSHDB");
  BOOST_REQUIRE_EQUAL(redis("DBSIZE"), "0\n");
  BOOST_CHECK_EQUAL(InitByKey(&wf), "[1]\n");
  RunShards(&wf, {1});
  PodResult fin = wf.Finalize();
  BOOST_REQUIRE_MESSAGE(fin.step == 0 && fin.sidecar == 0, fin.logs);
  BOOST_CHECK_EQUAL(
      Psql("SELECT status, succeeded FROM workflow_states WHERE workflow_id = '" + key + "'"),
      "succeeded|4\n");
  rapidjson::Document live = ParseJsonObject(redis("GET " + ShellQuote("workflow:state:" + key)));
  BOOST_CHECK_EQUAL(live["status"].GetString(), std::string("succeeded"));
  BOOST_CHECK_EQUAL(live["succeeded"].GetInt64(), 4);
  BOOST_CHECK_EQUAL(redis("EXISTS " + ShellQuote("checkpoint:workflow:" + key)), "1\n");
  redis("FLUSHDB");
}

BOOST_AUTO_TEST_CASE(another_list_for_the_key_is_refused_on_sqlite) {
  TempDir db;
  AnotherListIsRefused(SqliteStore(db / "state.db"));
}

BOOST_AUTO_TEST_CASE(another_list_for_the_key_is_refused_on_postgres) {
  AnotherListIsRefused(PostgresStore(/*with_redis=*/true));
}

BOOST_AUTO_TEST_CASE(a_key_without_a_list_and_no_task_list_is_refused_on_sqlite) {
  TempDir db;
  KeyWithoutAListIsRefused(SqliteStore(db / "state.db"));
}

BOOST_AUTO_TEST_CASE(a_key_without_a_list_and_no_task_list_is_refused_on_postgres) {
  KeyWithoutAListIsRefused(PostgresStore(/*with_redis=*/false));
}

// A list over the inline limit given to init is refused, pointing to submit;
// submitted, the same list then runs by key.
BOOST_AUTO_TEST_CASE(a_list_over_the_inline_limit_goes_through_submit) {
  TempDir tmp;
  const StoreSpec store = PostgresStore(/*with_redis=*/true);
  const std::string key = UniqueKey("long-list");
  const std::vector<std::string> ids = TaskIds(std::string(90, 'x'), 3000);
  WriteFile(tmp / "tasks.json", TaskListJson(ids));
  BOOST_REQUIRE_GT(ReadFile(tmp / "tasks.json").size(), pr::kMaxInlineTaskListBytes);

  Workflow wf(tmp.path(), key, store);
  PodResult inline_init =
      RunPod(wf.NewPodDir("init"), RefusedInitSpec(wf),
             {"init", "--task-list", "@" + (tmp / "tasks.json"), "--batch-size", "1000"});
  BOOST_CHECK_EQUAL(inline_init.step, pr::kExitUsage);
  BOOST_CHECK_MESSAGE(inline_init.logs.find("over the 262144-byte limit of a list given to init") !=
                              std::string::npos &&
                          inline_init.logs.find("`tm-sidecar submit --task-list @FILE "
                                                "--state-key " +
                                                key + "`") != std::string::npos,
                      inline_init.logs);
  BOOST_CHECK_EQUAL(Psql("SELECT count(*) FROM workflow_states WHERE workflow_id = '" + key + "'"),
                    "0\n");

  Submitted submitted = Submit(
      tmp.path(), store,
      {"--task-list", "@" + (tmp / "tasks.json"), "--batch-size", "1000", "--state-key", key});
  BOOST_REQUIRE_MESSAGE(submitted.exit_code == 0, submitted.err);
  BOOST_CHECK_EQUAL(InitByKey(&wf), "[0,1,2]\n");
  BOOST_CHECK_EQUAL(Psql("SELECT count(*) FROM task_states WHERE workflow_id = '" + key + "'"),
                    "3000\n");
}

BOOST_AUTO_TEST_CASE(bad_submissions_write_nothing) {
  TempDir tmp;
  const StoreSpec store = SqliteStore(tmp / "state.db");
  struct Case {
    const char* name;
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"invalid list", {"--task-list", R"(["a",)"}, "invalid JSON at byte"},
      {"duplicate ID", {"--task-list", R"(["a","a"])"}, "duplicate task ID \"a\""},
      {"missing file", {"--task-list", "@" + (tmp / "nope.json")}, "No such file"},
      {"bad state key", {"--task-list", R"(["a"])", "--state-key", "a\x01"}, "state key"},
      {"batch size 0", {"--task-list", R"(["a"])", "--batch-size", "0"}, "--batch-size"},
      {"unknown output", {"--task-list", R"(["a"])", "-o", "yaml"}, "--output"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Submitted r = Submit(tmp.path(), store, c.args);
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitUsage);
      BOOST_CHECK_MESSAGE(r.err.find(c.message) != std::string::npos, r.err);
      BOOST_CHECK(r.out.empty());
    }
  }
  // Nothing reached the store: it was never even created.
  BOOST_CHECK(!FileExists(tmp / "state.db"));
  Submitted no_store = Submit(tmp.path(), StoreSpec{}, {"--task-list", R"(["a"])"});
  BOOST_CHECK_EQUAL(no_store.exit_code, pr::kExitUsage);
  BOOST_CHECK_MESSAGE(no_store.err.find("no store") != std::string::npos, no_store.err);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
