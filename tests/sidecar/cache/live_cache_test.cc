// LiveCache against the real Redis of scripts/test-services.sh (TM_TEST_REDIS_URL).
// A second, plain hiredis connection checks what LiveCache wrote.
#include "cache/live_cache.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "redis_fixtures.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/state.h"

namespace taskmaster::sidecar {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A loopback port bound by this process: connecting to it is refused while
// `listening` is false, and accepted by the kernel but never answered while true.
class LocalPort {
 public:
  explicit LocalPort(bool listening) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    BOOST_REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    if (listening) BOOST_REQUIRE(listen(fd_, 8) == 0);
    socklen_t len = sizeof(addr);
    BOOST_REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~LocalPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(live_cache)

BOOST_AUTO_TEST_CASE(publish_writes_each_key_as_documented) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  BOOST_TEST(!cache.healthy(), "healthy before any operation");
  const std::string id = UniqueId("publish");
  const WorkflowState state = MakeState(id, 3);
  const std::map<std::string, std::string> tasks = {{"task-1", TaskDoc(id, "task-1", 2)},
                                                    {"task-2", TaskDoc(id, "task-2", 1)}};
  const std::string workflow_doc = WorkflowDoc(state);
  const Status status = cache.Publish(state, tasks, {}, workflow_doc);
  BOOST_REQUIRE_MESSAGE(status.ok(), status.ToString());
  BOOST_TEST(cache.healthy());

  // The seed: `GET workflow:state:uuid-123` returns JSON with workflow_id and status.
  const std::optional<std::string> json = MustGet(&cache, "workflow:state:" + id);
  BOOST_REQUIRE(json.has_value());
  BOOST_TEST(*json == WorkflowStateToJson(state));
  rapidjson::Document doc;
  doc.Parse(json->data(), json->size());
  BOOST_REQUIRE(!doc.HasParseError() && doc.IsObject());
  BOOST_TEST(doc["workflow_id"].GetString() == id);
  BOOST_TEST(doc["status"].GetString() == std::string("running"));
  BOOST_TEST(doc["version"].GetInt64() == 3);
  BOOST_TEST(doc["total"].GetInt64() == 4);

  for (const auto& [task_id, document] : tasks) {
    const std::optional<std::string> stored =
        MustGet(&cache, "checkpoint:task:" + id + ":" + task_id);
    BOOST_REQUIRE_MESSAGE(stored.has_value(), task_id);
    BOOST_TEST(*stored == document, "byte-identical: " << task_id);
    Result<Checkpoint> verified = VerifyCheckpoint(*stored);
    BOOST_REQUIRE_MESSAGE(verified.ok(), verified.status().ToString());
    BOOST_TEST(verified->fields.task_id == task_id);
  }

  // The seed: `GET checkpoint:workflow:uuid-123 | jq .`
  const std::optional<std::string> summary = MustGet(&cache, "checkpoint:workflow:" + id);
  BOOST_REQUIRE(summary.has_value());
  BOOST_TEST(*summary == workflow_doc);
  Result<Checkpoint> verified = VerifyCheckpoint(*summary);
  BOOST_REQUIRE_MESSAGE(verified.ok(), verified.status().ToString());
  BOOST_TEST(verified->fields.task_id == "*");
  BOOST_TEST(verified->fields.generation == 3);

  // The seed: `KEYS workflow:state:*` lists it.
  RawRedis raw(config);
  RawRedis::Reply keys = raw.Command({"KEYS", "workflow:state:*"});
  bool listed = false;
  for (size_t i = 0; i < keys->elements; ++i) {
    listed |= std::string(keys->element[i]->str, keys->element[i]->len) == "workflow:state:" + id;
  }
  BOOST_TEST(listed);
}

BOOST_AUTO_TEST_CASE(older_or_equal_versions_and_generations_do_not_overwrite) {
  LiveCache cache(TestRedisConfig());
  const std::string id = UniqueId("monotonic");
  const WorkflowState v5 = MakeState(id, 5);
  const std::string gen3 = TaskDoc(id, "t", 3);
  Publish(&cache, v5, {{"t", gen3}});

  // Older, then equal with other content: neither may replace what is there.
  WorkflowState v4 = MakeState(id, 4);
  Publish(&cache, v4, {{"t", TaskDoc(id, "t", 2)}});
  WorkflowState v5_other = MakeState(id, 5);
  v5_other.status = WorkflowStatus::kFailed;
  Publish(&cache, v5_other, {{"t", TaskDoc(id, "t", 3, R"({"other":true})")}});

  BOOST_TEST(Shown(MustGet(&cache, WorkflowStateKey(id))) == WorkflowStateToJson(v5));
  BOOST_TEST(Shown(MustGet(&cache, TaskCheckpointKey(id, "t"))) == gen3);
  BOOST_TEST(Shown(MustGet(&cache, WorkflowCheckpointKey(id))) == WorkflowDoc(v5));

  // Newer replaces.
  const WorkflowState v6 = MakeState(id, 6);
  const std::string gen4 = TaskDoc(id, "t", 4);
  Publish(&cache, v6, {{"t", gen4}});
  BOOST_TEST(Shown(MustGet(&cache, WorkflowStateKey(id))) == WorkflowStateToJson(v6));
  BOOST_TEST(Shown(MustGet(&cache, TaskCheckpointKey(id, "t"))) == gen4);
  BOOST_TEST(Shown(MustGet(&cache, WorkflowCheckpointKey(id))) == WorkflowDoc(v6));
}

BOOST_AUTO_TEST_CASE(documents_from_the_store_span_several_script_calls_and_never_go_back) {
  LiveCache cache(TestRedisConfig());
  const std::string id = UniqueId("from-store");
  // More tasks than one script call takes, so the state goes in a later call.
  const size_t n = kPublishKeysPerCall + 100;
  std::map<std::string, std::string> gen2;
  std::map<std::string, std::string> gen1;
  for (size_t i = 0; i < n; ++i) {
    const std::string task = "t" + std::to_string(i);
    gen2[task] = TaskDoc(id, task, 2);
    gen1[task] = TaskDoc(id, task, 1);
  }
  const WorkflowState v2 = MakeState(id, 2);
  Status status = cache.Publish(v2, gen2, {}, WorkflowDoc(v2), PublishCheck::kFromStore);
  BOOST_REQUIRE_MESSAGE(status.ok(), status.ToString());
  const WorkflowState v1 = MakeState(id, 1);
  status = cache.Publish(v1, gen1, {}, WorkflowDoc(v1), PublishCheck::kFromStore);
  BOOST_REQUIRE_MESSAGE(status.ok(), status.ToString());
  for (const std::string task : {"t0", "t511", "t512", "t611"}) {
    BOOST_TEST(Shown(MustGet(&cache, TaskCheckpointKey(id, task))) == gen2.at(task));
  }
  BOOST_TEST(Shown(MustGet(&cache, WorkflowStateKey(id))) == WorkflowStateToJson(v2));
  BOOST_TEST(Shown(MustGet(&cache, WorkflowCheckpointKey(id))) == WorkflowDoc(v2));

  // Without verification, a document whose generation cannot be read is still
  // refused, and nothing is sent.
  const WorkflowState v3 = MakeState(id, 3);
  status =
      cache.Publish(v3, {{"t0", "not a document"}}, {}, WorkflowDoc(v3), PublishCheck::kFromStore);
  BOOST_TEST(status.IsInvalidArgument(), status.ToString());
  BOOST_TEST(Shown(MustGet(&cache, WorkflowStateKey(id))) == WorkflowStateToJson(v2));
}

BOOST_AUTO_TEST_CASE(stored_values_that_do_not_parse_are_overwritten) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  RawRedis raw(config);
  const std::string id = UniqueId("garbage");
  raw.Set(WorkflowStateKey(id), "not json");
  raw.Set(TaskCheckpointKey(id, "t"), "garbage");
  raw.Set(WorkflowCheckpointKey(id), R"({"format":1,"workflow_id":)");  // torn

  const WorkflowState state = MakeState(id, 1);
  const std::string doc = TaskDoc(id, "t", 1);
  Publish(&cache, state, {{"t", doc}});
  BOOST_TEST(Shown(raw.Get(WorkflowStateKey(id))) == WorkflowStateToJson(state));
  BOOST_TEST(Shown(raw.Get(TaskCheckpointKey(id, "t"))) == doc);
  BOOST_TEST(Shown(raw.Get(WorkflowCheckpointKey(id))) == WorkflowDoc(state));
}

BOOST_AUTO_TEST_CASE(a_payload_nested_deeper_than_cjson_reads_still_protects_its_generation) {
  // cjson refuses nesting past 1000; the generation must still be read.
  LiveCache cache(TestRedisConfig());
  const std::string id = UniqueId("deep");
  const std::string deep = std::string(2000, '[') + std::string(2000, ']');
  const std::string gen5 = TaskDoc(id, "t", 5, deep);
  Publish(&cache, MakeState(id, 1), {{"t", gen5}});
  Publish(&cache, MakeState(id, 2), {{"t", TaskDoc(id, "t", 4)}});
  BOOST_TEST(Shown(MustGet(&cache, TaskCheckpointKey(id, "t"))) == gen5);
}

BOOST_AUTO_TEST_CASE(publish_reloads_scripts_after_script_flush) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  RawRedis raw(config);
  const std::string id = UniqueId("noscript");
  Publish(&cache, MakeState(id, 1), {{"t", TaskDoc(id, "t", 1)}});

  raw.Command({"SCRIPT", "FLUSH"});
  const WorkflowState v2 = MakeState(id, 2);
  const std::string gen2 = TaskDoc(id, "t", 2);
  Publish(&cache, v2, {{"t", gen2}});
  BOOST_TEST(Shown(raw.Get(WorkflowStateKey(id))) == WorkflowStateToJson(v2));
  BOOST_TEST(Shown(raw.Get(TaskCheckpointKey(id, "t"))) == gen2);

  raw.Command({"SCRIPT", "FLUSH"});
  const Status expired = cache.Expire(id, 600);
  BOOST_REQUIRE_MESSAGE(expired.ok(), expired.ToString());
  BOOST_TEST(raw.Ttl(TaskCheckpointKey(id, "t")) > 0);
}

BOOST_AUTO_TEST_CASE(ids_with_colons_slashes_and_glob_characters) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  RawRedis raw(config);
  const std::string id = UniqueId("odd:a/b*?[c]\\d");
  const std::vector<std::string> task_ids = {"t:1", "t/2", "*", "t[3]?", "t\\4"};
  std::map<std::string, std::string> tasks;
  for (const std::string& task_id : task_ids) tasks[task_id] = TaskDoc(id, task_id, 1);
  Publish(&cache, MakeState(id, 1), tasks);

  for (const std::string& task_id : task_ids) {
    const std::string key = "checkpoint:task:" + id + ":" + task_id;
    BOOST_TEST(Shown(raw.Get(key)) == tasks[task_id], key);
  }
  const Status expired = cache.Expire(id, 3600);
  BOOST_REQUIRE_MESSAGE(expired.ok(), expired.ToString());
  for (const std::string& task_id : task_ids) {
    const long long ttl = raw.Ttl(TaskCheckpointKey(id, task_id));
    BOOST_TEST((ttl > 0 && ttl <= 3600), task_id << ": TTL " << ttl);
  }
  BOOST_TEST(raw.Ttl(WorkflowStateKey(id)) > 0);
  BOOST_TEST(raw.Ttl(WorkflowCheckpointKey(id)) > 0);
}

BOOST_AUTO_TEST_CASE(a_glob_character_in_the_id_matches_only_itself) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  RawRedis raw(config);
  const std::string star = UniqueId("glob*");
  const std::string other = UniqueId("globby");  // what an unescaped "glob*" would match
  Publish(&cache, MakeState(star, 1), {{"t", TaskDoc(star, "t", 1)}});
  // A value that does not parse names no workflow: only the key pattern keeps it apart.
  const std::string other_key = TaskCheckpointKey(other, "t");
  raw.Set(other_key, "garbage");

  BOOST_REQUIRE(cache.Expire(star, 600).ok());
  BOOST_TEST(raw.Ttl(TaskCheckpointKey(star, "t")) > 0);
  BOOST_TEST(raw.Ttl(other_key) == -1);
  BOOST_REQUIRE(cache.Delete(star).ok());
  BOOST_TEST(!raw.Get(TaskCheckpointKey(star, "t")).has_value());
  BOOST_TEST(Shown(raw.Get(other_key)) == "garbage");
}

BOOST_AUTO_TEST_CASE(a_workflow_whose_id_extends_another_keeps_its_keys) {
  // checkpoint:task:P:fix:t is task "fix:t" of P or task "t" of "P:fix": the
  // documents say whose it is.
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  RawRedis raw(config);
  const std::string short_id = UniqueId("pre");
  const std::string long_id = short_id + ":fix";
  Publish(&cache, MakeState(short_id, 1), {{"own", TaskDoc(short_id, "own", 1)}});
  Publish(&cache, MakeState(long_id, 1), {{"t", TaskDoc(long_id, "t", 1)}});
  const std::string long_task_key = TaskCheckpointKey(long_id, "t");
  BOOST_REQUIRE(Contains(long_task_key, TaskCheckpointKey(short_id, "")));

  BOOST_REQUIRE(cache.Expire(short_id, 600).ok());
  BOOST_TEST(raw.Ttl(TaskCheckpointKey(short_id, "own")) > 0);
  BOOST_TEST(raw.Ttl(long_task_key) == -1);

  BOOST_REQUIRE(cache.Delete(short_id).ok());
  BOOST_TEST(!raw.Get(TaskCheckpointKey(short_id, "own")).has_value());
  BOOST_TEST(raw.Get(long_task_key).has_value());
  BOOST_TEST(raw.Get(WorkflowStateKey(long_id)).has_value());
}

BOOST_AUTO_TEST_CASE(expire_reaches_every_task_key_across_scan_pages) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  RawRedis raw(config);
  const std::string id = UniqueId("many");
  std::map<std::string, std::string> tasks;
  for (int i = 0; i < 1500; ++i) {
    const std::string task_id = "task-" + std::to_string(i);
    tasks[task_id] = TaskDoc(id, task_id, 1);
  }
  Publish(&cache, MakeState(id, 1), tasks);

  const Status expired = cache.Expire(id, 600);
  BOOST_REQUIRE_MESSAGE(expired.ok(), expired.ToString());
  int without_ttl = 0;
  for (const auto& [task_id, document] : tasks) {
    const long long ttl = raw.Ttl(TaskCheckpointKey(id, task_id));
    if (ttl <= 0 || ttl > 600) ++without_ttl;
  }
  BOOST_TEST(without_ttl == 0);
  BOOST_TEST(raw.Ttl(WorkflowStateKey(id)) > 0);
  BOOST_TEST(raw.Ttl(WorkflowCheckpointKey(id)) > 0);

  // Written again, the workflow is live again: its state loses the TTL.
  Publish(&cache, MakeState(id, 2), {});
  BOOST_TEST(raw.Ttl(WorkflowStateKey(id)) == -1);

  const Status refused = cache.Expire(id, 0);
  BOOST_TEST(refused.IsInvalidArgument(), refused.ToString());
}

BOOST_AUTO_TEST_CASE(delete_removes_every_key_of_the_workflow) {
  LiveCache cache(TestRedisConfig());
  const std::string id = UniqueId("delete");
  Publish(&cache, MakeState(id, 1), {{"a", TaskDoc(id, "a", 1)}, {"b/c", TaskDoc(id, "b/c", 1)}});
  const Status deleted = cache.Delete(id);
  BOOST_REQUIRE_MESSAGE(deleted.ok(), deleted.ToString());
  for (const std::string& key : {WorkflowStateKey(id), WorkflowCheckpointKey(id),
                                 TaskCheckpointKey(id, "a"), TaskCheckpointKey(id, "b/c")}) {
    BOOST_TEST(!MustGet(&cache, key).has_value(), key);
  }
  BOOST_TEST(cache.Delete(id).ok(), "deleting again is a no-op");
}

BOOST_AUTO_TEST_CASE(publish_refuses_documents_that_do_not_belong) {
  LiveCache cache(TestRedisConfig());
  const std::string id = UniqueId("refuse");
  const WorkflowState state = MakeState(id, 1);
  const std::string good = TaskDoc(id, "a", 1);
  std::string flipped = good;
  flipped[flipped.find("next")] = 'N';

  const std::vector<std::pair<std::string, Status>> cases = {
      {"another task's document", cache.Publish(state, {{"b", good}}, {}, WorkflowDoc(state))},
      {"another workflow's document",
       cache.Publish(state, {{"a", TaskDoc(id + "x", "a", 1)}}, {}, WorkflowDoc(state))},
      {"a changed byte", cache.Publish(state, {{"a", flipped}}, {}, WorkflowDoc(state))},
      {"a trailing newline", cache.Publish(state, {{"a", good + "\n"}}, {}, WorkflowDoc(state))},
      {"a task document as the summary", cache.Publish(state, {}, {}, good)},
      {"another workflow's summary",
       cache.Publish(state, {}, {}, WorkflowDoc(MakeState(id + "x", 1)))},
  };
  for (const auto& [what, status] : cases) {
    BOOST_TEST(status.IsInvalidArgument(), what << ": " << status.ToString());
  }
  BOOST_TEST(!MustGet(&cache, WorkflowStateKey(id)).has_value(), "nothing was sent");
  BOOST_TEST(!MustGet(&cache, TaskCheckpointKey(id, "a")).has_value());
}

BOOST_AUTO_TEST_CASE(get_reports_missing_keys_and_keys_of_another_type) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  const std::string id = UniqueId("get");
  BOOST_TEST(!MustGet(&cache, WorkflowStateKey(id)).has_value());
  RawRedis raw(config);
  raw.Command({"HSET", WorkflowStateKey(id), "f", "v"});
  Result<std::optional<std::string>> hash = cache.Get(WorkflowStateKey(id));
  BOOST_TEST(hash.status().IsCorruption(), hash.status().ToString());
  // The server answered: a refusal, not an outage, but the operation failed.
  BOOST_TEST(!cache.healthy());
  BOOST_TEST(cache.Ping().ok());
  BOOST_TEST(cache.healthy());
}

BOOST_AUTO_TEST_CASE(database_index_from_the_url_is_selected) {
  RedisConfig config = TestRedisConfig();
  config.db = 1;
  LiveCache cache(config);
  const std::string id = UniqueId("db1");
  Publish(&cache, MakeState(id, 1), {});
  RawRedis db1(config);
  BOOST_TEST(db1.Get(WorkflowStateKey(id)).has_value());
  config.db = 0;
  RawRedis db0(config);
  BOOST_TEST(!db0.Get(WorkflowStateKey(id)).has_value());
}

BOOST_AUTO_TEST_CASE(refused_credentials_or_database_are_invalid_arguments) {
  RedisConfig with_password = TestRedisConfig();
  with_password.password = "s3cret";  // the test server has none
  LiveCache auth(with_password);
  const Status refused = auth.Ping();
  BOOST_TEST(refused.IsInvalidArgument(), refused.ToString());
  BOOST_TEST(!Contains(refused.message(), "s3cret"));
  BOOST_TEST(!auth.healthy());

  RedisConfig far_db = TestRedisConfig();
  far_db.db = 100000;
  LiveCache select(far_db);
  const Status out_of_range = select.Ping();
  BOOST_TEST(out_of_range.IsInvalidArgument(), out_of_range.ToString());
}

BOOST_AUTO_TEST_CASE(a_restarted_redis_is_reached_again) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  const std::string id = UniqueId("restart");
  Publish(&cache, MakeState(id, 1), {{"t", TaskDoc(id, "t", 1)}});

  RestartRedis();

  // The new server is empty and knows no scripts. Every failure on the way back
  // must be one worth retrying; the deadline bounds the wait.
  const WorkflowState v2 = MakeState(id, 2);
  const std::string gen2 = TaskDoc(id, "t", 2);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int failures = 0;
  Status status;
  while (!(status = cache.Publish(v2, {{"t", gen2}}, {}, WorkflowDoc(v2))).ok()) {
    BOOST_REQUIRE_MESSAGE(status.IsUnavailable() || status.IsTimeout(), status.ToString());
    BOOST_REQUIRE_MESSAGE(!cache.healthy(), "healthy after " << status.ToString());
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                          "Redis not reached again: " << status.ToString());
    ++failures;
  }
  // The connection kept from before the restart is found broken by the first
  // command and the call goes again on a fresh one (live_cache.h).
  BOOST_TEST(failures == 0, "publish failed " << failures << " time(s) after the restart");
  BOOST_TEST(cache.healthy());
  BOOST_TEST(Shown(MustGet(&cache, WorkflowStateKey(id))) == WorkflowStateToJson(v2));
  BOOST_TEST(Shown(MustGet(&cache, TaskCheckpointKey(id, "t"))) == gen2);
}

BOOST_AUTO_TEST_CASE(an_unreachable_redis_is_unavailable) {
  const LocalPort refusing(/*listening=*/false);
  Result<RedisConfig> config =
      ParseRedisUrl("redis://127.0.0.1:" + std::to_string(refusing.port()));
  BOOST_REQUIRE(config.ok());
  LiveCache cache(*config);
  const Status ping = cache.Ping();
  BOOST_TEST(ping.IsUnavailable(), ping.ToString());
  BOOST_TEST(Contains(ping.message(), "127.0.0.1:" + std::to_string(refusing.port())),
             ping.message());
  BOOST_TEST(!cache.healthy());
  const std::string id = UniqueId("unreachable");
  const Status publish = cache.Publish(MakeState(id, 1), {}, {}, WorkflowDoc(MakeState(id, 1)));
  BOOST_TEST(publish.IsUnavailable(), publish.ToString());
}

BOOST_AUTO_TEST_CASE(a_redis_that_never_answers_times_out) {
  const LocalPort silent(/*listening=*/true);
  Result<RedisConfig> config = ParseRedisUrl("redis://127.0.0.1:" + std::to_string(silent.port()));
  BOOST_REQUIRE(config.ok());
  config->command_timeout = std::chrono::milliseconds(200);
  LiveCache cache(*config);
  const auto start = std::chrono::steady_clock::now();
  const Status ping = cache.Ping();
  const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  BOOST_TEST(ping.IsTimeout(), ping.ToString());
  BOOST_TEST(Contains(ping.message(), "no reply within 200 ms"), ping.message());
  BOOST_TEST(elapsed_ms < 2000, "a timeout is not resent");
  BOOST_TEST(!cache.healthy());
}

BOOST_AUTO_TEST_CASE(workflow_checkpoint_document_carries_the_summary) {
  WorkflowState state = MakeState("wf-1", 7);
  state.status = WorkflowStatus::kSucceeded;
  state.counts.cancelled = 2;
  Result<std::string> doc = WorkflowCheckpointDocument(state, 3, 41, kCreatedMs);
  BOOST_REQUIRE_MESSAGE(doc.ok(), doc.status().ToString());
  Result<Checkpoint> verified = VerifyCheckpoint(*doc);
  BOOST_REQUIRE_MESSAGE(verified.ok(), verified.status().ToString());
  BOOST_TEST(verified->fields.workflow_id == "wf-1");
  BOOST_TEST(verified->fields.task_id == "*");
  BOOST_TEST(verified->fields.fence == 3);
  BOOST_TEST(verified->fields.seq == 41);
  BOOST_TEST(verified->fields.generation == 7);
  BOOST_TEST(verified->fields.created_at_ms == kCreatedMs);
  BOOST_TEST(verified->payload ==
             R"({"total":4,"succeeded":1,"failed":1,"running":1,"pending":1,"cancelled":2,)"
             R"("status":"succeeded","version":7})");

  state.workflow_id = "";
  BOOST_TEST(WorkflowCheckpointDocument(state, 3, 41, kCreatedMs).status().IsInvalidArgument());
}

BOOST_AUTO_TEST_CASE(urls_that_parse) {
  struct Case {
    const char* url;
    std::string host;
    int port;
    int db;
    std::string username;
    std::string password;
    std::string unix_path;
  };
  const Case cases[] = {
      {"redis://cache", "cache", 6379, 0, "", "", ""},
      {"redis://127.0.0.1:56379/0", "127.0.0.1", 56379, 0, "", "", ""},
      {"redis://127.0.0.1:56379/", "127.0.0.1", 56379, 0, "", "", ""},
      {"redis://:p%40ss%3Aw0rd@redis.svc:7000/3", "redis.svc", 7000, 3, "", "p@ss:w0rd", ""},
      {"redis://app:pw@h:1/15", "h", 1, 15, "app", "pw", ""},
      {"redis://:p@ss@h", "h", 6379, 0, "", "p@ss", ""},
      {"redis://[::1]:6380/2", "::1", 6380, 2, "", "", ""},
      {"redis://[::1]", "::1", 6379, 0, "", "", ""},
      {"unix:///run/redis/redis.sock", "", 6379, 0, "", "", "/run/redis/redis.sock"},
  };
  for (const Case& c : cases) {
    Result<RedisConfig> config = ParseRedisUrl(c.url);
    BOOST_REQUIRE_MESSAGE(config.ok(), c.url << ": " << config.status().ToString());
    BOOST_TEST(config->host == c.host, c.url);
    BOOST_TEST(config->port == c.port, c.url);
    BOOST_TEST(config->db == c.db, c.url);
    BOOST_TEST(config->username == c.username, c.url);
    BOOST_TEST(config->password == c.password, c.url);
    BOOST_TEST(config->unix_path == c.unix_path, c.url);
  }
  BOOST_TEST(ParseRedisUrl("redis://:pw@[::1]:6380/2")->Describe() == "[::1]:6380/2");
  BOOST_TEST(ParseRedisUrl("unix:///tmp/r.sock")->Describe() == "unix:/tmp/r.sock");
}

BOOST_AUTO_TEST_CASE(rediss_is_refused_because_hiredis_has_no_tls) {
  Result<RedisConfig> config = ParseRedisUrl("rediss://:s3cret@redis.example:6380/0");
  BOOST_REQUIRE(!config.ok());
  BOOST_TEST(config.status().IsInvalidArgument());
  const std::string& message = config.status().message();
  BOOST_TEST(Contains(message, "rediss://"), message);
  BOOST_TEST(Contains(message, "TLS"), message);
  BOOST_TEST(Contains(message, "hiredis"), message);
  BOOST_TEST(!Contains(message, "s3cret"), message);
}

BOOST_AUTO_TEST_CASE(bad_urls_are_refused_with_what_is_wrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "missing scheme"},
      {"127.0.0.1:6379", "missing scheme"},
      {"http://h:6379", "unsupported scheme 'http'"},
      {"redis://", "missing host"},
      {"redis://:6379", "missing host"},
      {"redis://h:", "port '' is not a number"},
      {"redis://h:0", "port '0' is not a number"},
      {"redis://h:65536", "port '65536' is not a number"},
      {"redis://h:63x9", "port '63x9' is not a number"},
      {"redis://h:-1", "port '-1' is not a number"},
      {"redis://h/x", "database 'x' is not"},
      {"redis://h/-1", "database '-1' is not"},
      {"redis://h/99999999999", "database '99999999999' is not"},
      {"redis://h/0?timeout=1", "query strings and fragments"},
      {"redis://h#x", "query strings and fragments"},
      {"redis://h?db=1", "query strings and fragments"},
      {"redis://::1:6379", "IPv6 address goes in brackets"},
      {"redis://[::1:6379", "never closes"},
      {"redis://[::1]6379", "expected ':port'"},
      {"redis://user@h", "credentials go as"},
      {"redis://:@h", "empty password"},
      {"redis://:pw%zz@h", "password holds a '%'"},
      {"unix://relative/path", "must be absolute"},
  };
  for (const auto& [url, expected] : cases) {
    Result<RedisConfig> config = ParseRedisUrl(url);
    BOOST_TEST_CONTEXT("url '" << url << "'") {
      BOOST_REQUIRE(!config.ok());
      BOOST_TEST(config.status().IsInvalidArgument());
      BOOST_TEST(Contains(config.status().message(), expected), config.status().message());
      BOOST_TEST(Contains(config.status().message(), "redis://[[user]:password@]host"));
    }
  }
  const Status secret = ParseRedisUrl("redis://:s3cret@h:port").status();
  BOOST_TEST(!Contains(secret.message(), "s3cret"), secret.message());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace taskmaster::sidecar
