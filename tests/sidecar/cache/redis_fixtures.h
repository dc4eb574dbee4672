// What the LiveCache tests share: the Redis of scripts/test-services.sh
// (TM_TEST_REDIS_URL), a plain hiredis connection to look at it without going
// through LiveCache, and documents to publish.
#ifndef TASKMASTER_TESTS_SIDECAR_CACHE_REDIS_FIXTURES_H_
#define TASKMASTER_TESTS_SIDECAR_CACHE_REDIS_FIXTURES_H_

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cache/live_cache.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/state.h"

namespace taskmaster::sidecar {

inline RedisConfig TestRedisConfig() {
  const char* url = std::getenv("TM_TEST_REDIS_URL");
  BOOST_REQUIRE_MESSAGE(url != nullptr && *url != '\0',
                        "TM_TEST_REDIS_URL is not set: run under scripts/run-tests.sh (make test), "
                        "or eval \"$(scripts/test-services.sh start)\" first");
  Result<RedisConfig> config = ParseRedisUrl(url);
  BOOST_REQUIRE_MESSAGE(config.ok(), config.status().ToString());
  return *config;
}

// A plain hiredis connection, to look at Redis without going through LiveCache.
class RawRedis {
 public:
  explicit RawRedis(const RedisConfig& config)
      : context_(redisConnect(config.host.c_str(), config.port)) {
    BOOST_REQUIRE_MESSAGE(context_ && context_->err == 0,
                          "cannot connect to " << config.Describe() << ": "
                                               << (context_ ? context_->errstr : "no memory"));
    Command({"SELECT", std::to_string(config.db)});
  }

  struct ReplyDeleter {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
  };
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

  Reply Command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    Reply reply(static_cast<redisReply*>(redisCommandArgv(
        context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    BOOST_REQUIRE_MESSAGE(reply != nullptr, args[0] << ": " << context_->errstr);
    BOOST_REQUIRE_MESSAGE(reply->type != REDIS_REPLY_ERROR,
                          args[0] << ": " << std::string(reply->str, reply->len));
    return reply;
  }

  std::optional<std::string> Get(const std::string& key) {
    Reply reply = Command({"GET", key});
    if (reply->type == REDIS_REPLY_NIL) return std::nullopt;
    return std::string(reply->str, reply->len);
  }
  void Set(const std::string& key, const std::string& value) { Command({"SET", key, value}); }
  long long Ttl(const std::string& key) { return Command({"TTL", key})->integer; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* context) const { redisFree(context); }
  };
  std::unique_ptr<redisContext, ContextDeleter> context_;
};

// IDs unique to this run, so runs and suites sharing the Redis do not meet.
inline std::string UniqueId(const std::string& name) {
  static const std::string run = [] {
    std::random_device device;
    return std::to_string(getpid()) + "-" + std::to_string(device() % 1000000);
  }();
  return "lc-" + run + "-" + name;
}

inline constexpr int64_t kCreatedMs = 1764375682123;  // 2025-11-29T00:21:22.123Z

inline WorkflowState MakeState(const std::string& workflow_id, int64_t version) {
  WorkflowState state;
  state.workflow_id = workflow_id;
  state.status = WorkflowStatus::kRunning;
  state.counts.total = 4;
  state.counts.succeeded = 1;
  state.counts.failed = 1;
  state.counts.running = 1;
  state.counts.pending = 1;
  state.created_at_ms = kCreatedMs;
  state.updated_at_ms = kCreatedMs + version;
  state.version = version;
  return state;
}

inline std::string TaskDoc(const std::string& workflow_id, const std::string& task_id,
                           int64_t generation, const std::string& payload = R"({"next":42})") {
  CheckpointFields fields;
  fields.workflow_id = workflow_id;
  fields.task_id = task_id;
  fields.fence = 1;
  fields.seq = generation + 10;
  fields.generation = generation;
  fields.created_at_ms = kCreatedMs;
  Result<std::string> doc = EncodeCheckpoint(fields, payload);
  BOOST_REQUIRE_MESSAGE(doc.ok(), doc.status().ToString());
  return *doc;
}

inline std::string WorkflowDoc(const WorkflowState& state) {
  Result<std::string> doc = WorkflowCheckpointDocument(state, 1, state.version, kCreatedMs);
  BOOST_REQUIRE_MESSAGE(doc.ok(), doc.status().ToString());
  return *doc;
}

// Publishes and requires success.
inline void Publish(LiveCache* cache, const WorkflowState& state,
                    const std::map<std::string, std::string>& tasks) {
  const Status status = cache->Publish(state, tasks, {}, WorkflowDoc(state));
  BOOST_REQUIRE_MESSAGE(status.ok(), status.ToString());
}

inline std::optional<std::string> MustGet(LiveCache* cache, const std::string& key) {
  Result<std::optional<std::string>> value = cache->Get(key);
  BOOST_REQUIRE_MESSAGE(value.ok(), value.status().ToString());
  return *value;
}

// A value, or "(nil)" for a missing key, so comparisons print what was found.
inline std::string Shown(const std::optional<std::string>& value) {
  return value ? *value : "(nil)";
}

// A fresh, empty Redis on the same port: scripts/test-services.sh restart-redis.
inline void RestartRedis() {
  const char* services = std::getenv("TM_SERVICES_DIR");
  BOOST_REQUIRE_MESSAGE(services != nullptr && *services != '\0',
                        "TM_SERVICES_DIR is not set: the services were not started by "
                        "scripts/test-services.sh");
  const std::filesystem::path script = TM_SERVICES_SCRIPT;
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists(script), "cannot find " << script);
  const std::string command = "'" + script.string() + "' restart-redis";
  BOOST_REQUIRE_MESSAGE(std::system(command.c_str()) == 0, command << " failed");
}

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_TESTS_SIDECAR_CACHE_REDIS_FIXTURES_H_
