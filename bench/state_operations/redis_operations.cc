// Redis: LiveCache's publish of a sidecar flush, guarded (the shard's writer
// holds its guard, as every flush after a shard's first does) and whole (a
// refill, compared key by key), beside `redis-benchmark -t set -P 16` (the
// issue's baseline); and LiveCache::Get of a workflow's state, one request at a
// time as the API reads it, beside redis-benchmark GET of a value of the same
// size on one connection without pipelining.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "cache/live_cache.h"
#include "operations.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/protocol.h"
#include "taskmaster/state.h"

namespace taskmaster::bench {
namespace {

using sidecar::LiveCache;
using sidecar::PublishCheck;
using sidecar::RedisConfig;
using sidecar::ShardWriter;

constexpr int64_t kBatch = protocol::kFlushMaxRecords;
constexpr int64_t kTasks = 20000;  // the workflow's tasks; batches cycle over them
constexpr int64_t kGetsPerCall = 1000;
constexpr int64_t kNowMs = 1767225600000;
// A checkpoint payload of the size a task resuming from a row offset keeps.
constexpr const char* kPayload =
    R"({"file":"s3://bucket/input/part-00042.csv","row":123456,"bytes":987654321,"state":"ok"})";

// A workflow whose batches name 500 distinct tasks, each with a generation
// greater than the one it had, and a state one version on: every document is
// written.
class Workflow {
 public:
  explicit Workflow(std::string id) {
    state_.workflow_id = std::move(id);
    state_.status = WorkflowStatus::kRunning;
    state_.counts.total = kTasks;
    state_.counts.pending = kTasks;
    state_.created_at_ms = kNowMs;
  }

  void NextBatch() {
    documents_.clear();
    for (int64_t i = 0; i < kBatch; ++i, ++next_) {
      char task[32];
      std::snprintf(task, sizeof(task), "task-%06lld", static_cast<long long>(next_ % kTasks));
      const CheckpointFields f{state_.workflow_id, task,         1, ++seq_,
                               next_ / kTasks + 1, kNowMs + seq_};
      Result<std::string> doc = EncodeCheckpoint(f, kPayload);
      if (!doc.ok()) ::abort();
      documents_.emplace(task, std::move(*doc));
    }
    ++state_.version;
    state_.updated_at_ms = kNowMs + seq_;
    Result<std::string> summary = sidecar::WorkflowCheckpointDocument(state_, 1, seq_, kNowMs);
    if (!summary.ok()) ::abort();
    summary_ = std::move(*summary);
  }

  const WorkflowState& state() const { return state_; }
  const std::map<std::string, std::string>& documents() const { return documents_; }
  const std::string& summary() const { return summary_; }
  int64_t seq() const { return seq_; }

 private:
  WorkflowState state_;
  std::map<std::string, std::string> documents_;
  std::string summary_;
  int64_t next_ = 0;
  int64_t seq_ = 0;
};

struct RedisState {
  explicit RedisState(const RedisConfig& config)
      : guarded_cache(config), whole_cache(config), get_cache(config) {}
  LiveCache guarded_cache;
  LiveCache whole_cache;
  LiveCache get_cache;
  std::unique_ptr<Workflow> guarded;
  std::unique_ptr<Workflow> whole;
};

// The final "<TEST>: <n> requests per second" of `redis-benchmark -q`, whose
// progress lines end in '\r'.
Result<double> RequestsPerSecond(const std::string& output, const std::string& test) {
  std::string text = output;
  for (char& c : text) {
    if (c == '\r') c = '\n';
  }
  std::istringstream lines(text);
  std::string line;
  std::optional<double> rate;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name, value, unit;
    words >> name >> value >> unit;
    if (name == test + ":" && unit == "requests") rate = std::stod(value);
  }
  if (!rate) return Status::Corruption("no '" + test + ": N requests' in:\n" + output);
  return *rate;
}

Measure RedisBenchmark(const std::string& command, const std::string& test) {
  return [command, test]() -> Result<double> {
    Result<std::string> output = RunCommand(command);
    if (!output.ok()) return output.status();
    return RequestsPerSecond(*output, test);
  };
}

}  // namespace

Result<Group> RedisGroup(const Settings& settings) {
  Result<RedisConfig> config = sidecar::ParseRedisUrl(settings.redis_url);
  if (!config.ok()) return config.status();
  if (!config->password.empty()) {
    return Status::InvalidArgument(
        "TM_BENCH_REDIS_URL: the benchmark takes a Redis without a "
        "password (it shows the baselines' command lines)");
  }
  auto state = std::make_shared<RedisState>(*config);
  TM_RETURN_IF_ERROR(state->guarded_cache.Ping());
  const std::string run = std::to_string(::getpid());
  state->guarded = std::make_unique<Workflow>("bench-redis-guarded-" + run);
  state->whole = std::make_unique<Workflow>("bench-redis-whole-" + run);

  // As a shard's sidecar starts: the workflow published whole once, then its
  // first batch compared, which claims the guard; every later batch is guarded.
  Workflow& guarded = *state->guarded;
  guarded.NextBatch();
  TM_RETURN_IF_ERROR(state->guarded_cache.Publish(guarded.state(), {}, {{0, 1}}, guarded.summary(),
                                                  PublishCheck::kFromStore));
  TM_RETURN_IF_ERROR(state->guarded_cache.PublishChanges(
      ShardWriter{0, 1, guarded.seq()}, guarded.state(), guarded.documents(), guarded.summary()));

  const std::string where = config->unix_path.empty()
                                ? "-h " + config->host + " -p " + std::to_string(config->port)
                                : "-s " + config->unix_path;
  const std::string db = config->db == 0 ? "" : " --dbnum " + std::to_string(config->db);
  const size_t state_bytes = WorkflowStateToJson(guarded.state()).size();
  const std::string set_command = "redis-benchmark " + where + db + " -t set -P 16 -n 200000 -q";
  const std::string get_command = "redis-benchmark " + where + db + " -t set,get -c 1 -P 1 -d " +
                                  std::to_string(state_bytes) + " -n 20000 -q";

  Group group;
  group.title = "Redis (" + config->Describe() + ")";
  group.baselines = {
      {"redis-benchmark SET -P 16", set_command, "SET/s", RedisBenchmark(set_command, "SET")},
      {"redis-benchmark GET, 1 connection, no pipelining", get_command, "GET/s",
       RedisBenchmark(get_command, "GET")},
  };
  const double seconds = settings.seconds;
  RedisState* s = state.get();
  group.operations = {
      {"LiveCache::PublishChanges, 500 checkpoints per batch (guarded: a flush)", "records/s", 0,
       0.5,
       [s, seconds] {
         return Rate(
             seconds, [s] { s->guarded->NextBatch(); },
             [s]() -> Result<int64_t> {
               const Workflow& w = *s->guarded;
               TM_RETURN_IF_ERROR(s->guarded_cache.PublishChanges(
                   ShardWriter{0, 1, w.seq()}, w.state(), w.documents(), w.summary()));
               return kBatch;
             });
       }},
      {"LiveCache::Publish, 500 checkpoints per call (compared: a refill)", "records/s", 0,
       std::nullopt,
       [s, seconds] {
         return Rate(
             seconds, [s] { s->whole->NextBatch(); },
             [s]() -> Result<int64_t> {
               const Workflow& w = *s->whole;
               TM_RETURN_IF_ERROR(s->whole_cache.Publish(w.state(), w.documents(), {{0, 1}},
                                                         w.summary(), PublishCheck::kFromStore));
               return kBatch;
             });
       }},
      {"LiveCache::Get of workflow:state:<key>", "GET/s", 1, std::nullopt,
       [s, seconds] {
         const std::string key = sidecar::WorkflowStateKey(s->guarded->state().workflow_id);
         return Rate(
             seconds, [] {},
             [s, key]() -> Result<int64_t> {
               for (int64_t i = 0; i < kGetsPerCall; ++i) {
                 Result<std::optional<std::string>> value = s->get_cache.Get(key);
                 if (!value.ok()) return value.status();
                 if (!value->has_value()) return Status::NotFound(key + " is not in Redis");
               }
               return kGetsPerCall;
             });
       }},
  };
  group.state = state;
  return group;
}

}  // namespace taskmaster::bench
