// Flush throughput of task records to Redis (issue 4): LiveCache::Publish of
// batches of 500 task checkpoint documents, as the sidecar publishes after each
// flush of 500 records, plus the workflow's state and summary checkpoint that
// every Publish carries. BM_RedisPublish500Checkpoints publishes them as
// documents from the store (PublishCheck::kFromStore, what the sidecar's flush
// passes); BM_RedisPublishVerified500Checkpoints verifies each one again.
// Each batch names 500 distinct tasks with a generation greater than the one
// Redis holds, so every document is written (the Lua script's compare-and-set
// is taken, never skipped).
//
// scripts/run-benchmarks.sh runs it beside `redis-benchmark -t set -P 16` on the
// same server and prints ours / redis-benchmark (target >= 0.5). The server is
// TM_TEST_REDIS_URL (scripts/test-services.sh); without it the benchmark is skipped.
//
// Two diagnostics beside it, with raw hiredis and the same documents and keys,
// say where the time goes (they are not the sidecar's code):
//   BM_RedisDiagPlainSet500     one pipeline of plain SETs: the floor for the bytes
//   BM_RedisDiagOneScript500    the compare-and-set Lua LiveCache used before it
//                               batched (GETRANGE + cjson.decode of the envelope per
//                               key), in one EVALSHA for the whole batch
//   BM_RedisDiagShardGuard500   one EVALSHA per batch that compares the writer's
//                               (fence, seq) with one guard key, then SETs the 500
//                               documents unconditionally (a task's key has one
//                               writer, its shard, so one comparison per batch
//                               would keep keys from moving backwards)
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/live_cache.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/state.h"

namespace taskmaster::sidecar {
namespace {

constexpr int64_t kBatch = 500;    // records per sidecar flush (protocol::kFlushMaxRecords)
constexpr int64_t kTasks = 20000;  // the workflow's tasks; batches cycle over them
constexpr int64_t kNowMs = 1767225600000;
// A checkpoint payload of the size a task resuming from a row offset would keep.
constexpr const char* kPayload =
    R"({"file":"s3://bucket/input/part-00042.csv","row":123456,"bytes":987654321,"state":"ok"})";

std::optional<RedisConfig> ConfigFromEnv(benchmark::State& state) {
  const char* url = std::getenv("TM_TEST_REDIS_URL");
  if (url == nullptr || *url == '\0') {
    state.SkipWithError("TM_TEST_REDIS_URL is not set (scripts/test-services.sh start)");
    return std::nullopt;
  }
  Result<RedisConfig> config = ParseRedisUrl(url);
  if (!config.ok()) {
    state.SkipWithError(config.status().ToString().c_str());
    return std::nullopt;
  }
  return *config;
}

std::string TaskId(int64_t ordinal) {
  char id[32];
  std::snprintf(id, sizeof(id), "task-%06lld", static_cast<long long>(ordinal));
  return id;
}

void RedisPublish500Checkpoints(benchmark::State& state, PublishCheck check) {
  std::optional<RedisConfig> config = ConfigFromEnv(state);
  if (!config) return;
  LiveCache cache(*config);
  if (Status s = cache.Ping(); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  // A workflow of its own per run, so a run never meets generations of another.
  static int run = 0;
  const std::string workflow_id =
      "bench-redis-" + std::to_string(::getpid()) + "-" + std::to_string(++run);

  WorkflowState ws;
  ws.workflow_id = workflow_id;
  ws.status = WorkflowStatus::kRunning;
  ws.counts.total = kTasks;
  ws.counts.pending = kTasks;
  ws.created_at_ms = kNowMs;

  std::map<std::string, std::string> documents;
  int64_t next = 0;  // the next batch's first task, as a running count over the cycles
  int64_t seq = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // What the store hands the sidecar after a commit: the batch's documents
    // and the workflow's state with a grown version.
    documents.clear();
    for (int64_t i = 0; i < kBatch; ++i, ++next) {
      const std::string id = TaskId(next % kTasks);
      CheckpointFields f{workflow_id, id, 1, ++seq, next / kTasks + 1, kNowMs + seq};
      Result<std::string> doc = EncodeCheckpoint(f, kPayload);
      if (!doc.ok()) ::abort();
      documents.emplace(id, std::move(*doc));
    }
    ++ws.version;
    ws.updated_at_ms = kNowMs + seq;
    Result<std::string> summary = WorkflowCheckpointDocument(ws, 1, seq, kNowMs + seq);
    if (!summary.ok()) ::abort();
    state.ResumeTiming();

    Status s = ws.version == 1 ? cache.Publish(ws, documents, {}, *summary, check) : cache.PublishChanges(ShardWriter{0, 1, seq}, ws, documents, *summary);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["records_per_publish"] = static_cast<double>(kBatch);
  state.counters["doc_bytes"] = static_cast<double>(documents.begin()->second.size());
}
// What the sidecar's flush publishes: documents from the store, not verified again.
void BM_RedisPublish500Checkpoints(benchmark::State& state) {
  RedisPublish500Checkpoints(state, PublishCheck::kFromStore);
}
BENCHMARK(BM_RedisPublish500Checkpoints)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same with every document verified again (PublishCheck::kVerify, the default).
void BM_RedisPublishVerified500Checkpoints(benchmark::State& state) {
  RedisPublish500Checkpoints(state, PublishCheck::kVerify);
}
BENCHMARK(BM_RedisPublishVerified500Checkpoints)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- Diagnostics ------------------------------------------------------------

// The compare-and-set of LiveCache's per-key script before batching, looped
// over every key of one call: KEYS[i] gets ARGV[2i-1] (the document) when its
// generation ARGV[2i] is greater than the stored one. It reads the stored
// envelope with LiveCache's own envelope(head) (CheckpointEnvelopeLua).
constexpr const char* kBatchedLoop = R"lua(
local n = 0
for i, key in ipairs(KEYS) do
  local doc = envelope(redis.call('GETRANGE', key, 0, HEAD_LAST_BYTE))
  local generation = tonumber(ARGV[2 * i])
  if not (doc and type(doc.generation) == 'number' and doc.generation >= generation) then
    redis.call('SET', key, ARGV[2 * i - 1])
    n = n + 1
  end
end
return n
)lua";

// KEYS[1] the writer's guard key, ARGV[1] its fence, ARGV[2] the batch's seq;
// KEYS[i + 1] gets ARGV[i + 2].
constexpr const char* kShardGuardScript = R"lua(
local stored = redis.call('GET', KEYS[1])
if stored then
  local f, s = string.match(stored, '^(%d+) (%d+)$')
  f, s = tonumber(f), tonumber(s)
  local nf, ns = tonumber(ARGV[1]), tonumber(ARGV[2])
  if f and (f > nf or (f == nf and s >= ns)) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1])
end
return #KEYS - 1
)lua";

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;

Context ConnectRaw(benchmark::State& state) {
  std::optional<RedisConfig> config = ConfigFromEnv(state);
  if (!config) return nullptr;
  Context c(redisConnect(config->host.c_str(), config->port));
  if (c == nullptr || c->err) {
    state.SkipWithError("cannot connect to Redis");
    return nullptr;
  }
  return c;
}

// Sends the commands in one pipeline and reads every reply; false on an error.
bool Pipeline(redisContext* c, const std::vector<std::vector<std::string>>& commands) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& command : commands) {
    argv.clear();
    lengths.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()) !=
        REDIS_OK) {
      return false;
    }
  }
  bool ok = true;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(c, &reply) != REDIS_OK) return false;
    ok = ok && static_cast<redisReply*>(reply)->type != REDIS_REPLY_ERROR;
    freeReplyObject(reply);
  }
  return ok;
}

enum class Diag { kPlainSet, kOneScript, kShardGuard };

void RunDiag(benchmark::State& state, Diag diag) {
  Context c = ConnectRaw(state);
  if (c == nullptr) return;
  std::string sha;
  if (diag != Diag::kPlainSet) {
    const std::string source = diag == Diag::kOneScript
                                   ? std::string(kBatchedLoop)
                                   : std::string(kShardGuardScript);
    auto* reply = static_cast<redisReply*>(redisCommand(c.get(), "SCRIPT LOAD %s", source.c_str()));
    if (reply == nullptr || reply->type != REDIS_REPLY_STRING) {
      state.SkipWithError("SCRIPT LOAD failed");
      return;
    }
    sha.assign(reply->str, reply->len);
    freeReplyObject(reply);
  }
  static int run = 0;
  const std::string workflow_id =
      "bench-redis-diag-" + std::to_string(::getpid()) + "-" + std::to_string(++run);
  std::vector<std::vector<std::string>> commands;
  int64_t next = 0;
  int64_t seq = 0;
  for (auto _ : state) {
    state.PauseTiming();
    commands.clear();
    std::vector<std::string> script = {"EVALSHA", sha, std::to_string(kBatch)};
    std::vector<std::string> args;
    if (diag == Diag::kShardGuard) {
      script[2] = std::to_string(kBatch + 1);
      script.push_back("checkpoint:guard:" + workflow_id + ":shard:0");
      args.push_back("1");
      args.push_back(std::to_string(seq + kBatch));
    }
    for (int64_t i = 0; i < kBatch; ++i, ++next) {
      const std::string id = TaskId(next % kTasks);
      CheckpointFields f{workflow_id, id, 1, ++seq, next / kTasks + 1, kNowMs + seq};
      Result<std::string> doc = EncodeCheckpoint(f, kPayload);
      if (!doc.ok()) ::abort();
      if (diag == Diag::kPlainSet) {
        commands.push_back({"SET", TaskCheckpointKey(workflow_id, id), std::move(*doc)});
      } else if (diag == Diag::kOneScript) {
        script.push_back(TaskCheckpointKey(workflow_id, id));
        args.push_back(std::move(*doc));
        args.push_back(std::to_string(f.generation));
      } else {
        script.push_back(TaskCheckpointKey(workflow_id, id));
        args.push_back(std::move(*doc));
      }
    }
    if (diag != Diag::kPlainSet) {
      script.insert(script.end(), args.begin(), args.end());
      commands.push_back(std::move(script));
    }
    state.ResumeTiming();
    if (!Pipeline(c.get(), commands)) {
      state.SkipWithError("Redis refused a command");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_RedisDiagPlainSet500(benchmark::State& state) {
  RunDiag(state, Diag::kPlainSet);
}
void BM_RedisDiagOneScript500(benchmark::State& state) {
  RunDiag(state, Diag::kOneScript);
}
void BM_RedisDiagShardGuard500(benchmark::State& state) {
  RunDiag(state, Diag::kShardGuard);
}
BENCHMARK(BM_RedisDiagPlainSet500)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RedisDiagOneScript500)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RedisDiagShardGuard500)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace taskmaster::sidecar

BENCHMARK_MAIN();
