// LiveCache: the live copy of workflow state and checkpoints in Redis
// (DESIGN.md §4), for people, the API and dashboards. The sidecar writes it only
// after the StateStore committed a batch — ApplyResult's `state` and
// `checkpoints` are what it publishes — and restore and acks never read it, so a
// failed write costs freshness, never correctness: the caller marks the
// workflow dirty and publishes it again from the store later.
//
// Keys (user contract, from the seed: `GET workflow:state:<key>`,
// `KEYS workflow:state:*`, `GET checkpoint:workflow:<key> | jq .`):
//
//   workflow:state:<key>              WorkflowStateToJson(state)
//   checkpoint:workflow:<key>         the summary checkpoint (WorkflowCheckpointDocument)
//   checkpoint:task:<key>:<task id>   the task's current checkpoint document
//
// IDs go into keys as they are (they may hold ':', '/', '*'); keys and values
// travel as command arguments, never spliced into command text.
//
// Writes are conditional, in Lua scripts, so racing or replaying writers never
// move a key backwards: the state only to a greater `version`, a checkpoint only
// to a greater `generation`; a stored value that does not parse is overwritten.
// So every operation is idempotent, which is what allows sending a call again.
// Publish sends one script call per chunk of up to kPublishKeysPerCall keys, not
// one per key; the script compares each key on its own.
//
// Connection (the hiredis model): one redisContext, made on first use. A
// transport error drops it and the next call connects again. When a connection
// kept from an earlier call turns out broken (Redis restarted in between), the
// call is sent once more on a fresh one. Statuses:
//
//   Unavailable      cannot connect, the connection broke, or the server said
//                    "try later" (LOADING, BUSY, MASTERDOWN, TRYAGAIN, READONLY, OOM)
//   Timeout          no connection or no reply within the configured timeout
//   InvalidArgument  bad arguments, or the server refused the command
//                    (credentials, database index, ...)
//   Corruption       a key holds another type, or a reply has an unexpected shape
//
// Beyond that resend, and one more after reloading the scripts on NOSCRIPT,
// nothing is retried here: backoff.h is the caller's.
//
// Not thread-safe: one thread at a time (the sidecar's flusher, or a command).
// hiredis writes with write(2), so the process must ignore SIGPIPE (as
// tm-sidecar's main does): a write to a connection Redis reset could end it.
#ifndef TASKMASTER_SIDECAR_CACHE_LIVE_CACHE_H_
#define TASKMASTER_SIDECAR_CACHE_LIVE_CACHE_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/state.h"
#include "taskmaster/status.h"

struct redisContext;
struct redisReply;

namespace taskmaster::sidecar {

// Where Redis is and how long to wait for it. Plain config: ParseRedisUrl fills
// the address; the timeouts are the caller's.
struct RedisConfig {
  // TCP when unix_path is empty.
  std::string host;
  int port = 6379;
  std::string unix_path;
  std::string username;  // empty: AUTH with the password alone
  std::string password;  // empty: no AUTH
  int db = 0;
  // Short: the cache is written on the flush path, and a Redis that does not
  // answer must not hold up acknowledging the step's records for long.
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{1000};

  // "host:port/db" or "unix:/path", for messages and logs; never the password.
  std::string Describe() const;
};

// Parses `redis://[[user]:password@]host[:port][/db]` (port 6379 and db 0 by
// default; an IPv6 host in brackets; user and password percent-decoded) or
// `unix:///absolute/path`. InvalidArgument naming the problem, never echoing
// the password; `rediss://` is refused because Debian's hiredis 0.14 has no TLS.
Result<RedisConfig> ParseRedisUrl(std::string_view url);

// The key names above.
std::string WorkflowStateKey(std::string_view workflow_id);
std::string WorkflowCheckpointKey(std::string_view workflow_id);
std::string TaskCheckpointKey(std::string_view workflow_id, std::string_view task_id);

// The summary checkpoint stored at checkpoint:workflow:<key>: the checkpoint
// envelope with task_id "*", generation = state.version, and the payload
// {"total","succeeded","failed","running","pending","cancelled","status","version"}.
// Fails as EncodeCheckpoint does (an invalid workflow ID, a negative number).
Result<std::string> WorkflowCheckpointDocument(const WorkflowState& state, int64_t fence,
                                               int64_t seq, int64_t now_ms);

// How Publish checks the documents it is given.
enum class PublishCheck {
  // Each document must verify (checksum, envelope) and name this workflow and
  // its task (or "*"); else InvalidArgument and nothing is sent.
  kVerify,
  // The documents come from the StateStore (ApplyResult::checkpoints, which
  // the sidecar verified on their way in) and from WorkflowCheckpointDocument:
  // only their generation is read from the envelope, without a checksum or a
  // full parse. A document whose generation cannot be read is still refused.
  kFromStore,
};

// The Lua function `envelope(head)` the checkpoint scripts share: the fields
// of a stored document's envelope as a table, or nil. For the benchmark that
// measures another script design with the same logic (bench/redis_flush_bench.cc).
std::string_view CheckpointEnvelopeLua();

// Keys per script call in Publish: a bound on how long one call holds Redis
// (a refill publishes every checkpoint of a workflow).
inline constexpr size_t kPublishKeysPerCall = 512;

class LiveCache {
 public:
  // Does not connect: the first operation does, so a sidecar starts (and
  // restores) whether or not Redis is up. Requires positive timeouts.
  explicit LiveCache(RedisConfig config);
  ~LiveCache();
  LiveCache(const LiveCache&) = delete;
  LiveCache& operator=(const LiveCache&) = delete;

  // Writes the workflow's state and checkpoints, each only if newer than what
  // Redis holds (see the file comment), in one pipeline. `task_checkpoints` maps
  // task ID to its current checkpoint document and `workflow_checkpoint_doc` is
  // WorkflowCheckpointDocument(state, ...): each must verify and name this
  // workflow (and that task, or "*"), else InvalidArgument and nothing is sent
  // (with PublishCheck::kFromStore only the generation is read; see there).
  Status Publish(const WorkflowState& state,
                 const std::map<std::string, std::string>& task_checkpoints,
                 const std::string& workflow_checkpoint_doc,
                 PublishCheck check = PublishCheck::kVerify);

  // Sets a TTL of ttl_seconds (> 0) on the workflow's keys: its state, its
  // summary checkpoint and every task checkpoint. Task keys are found with SCAN
  // and a task key is touched only if its document names this workflow (or does
  // not parse): `checkpoint:task:a:b:t` may belong to workflow "a" or "a:b".
  Status Expire(const std::string& workflow_id, int64_t ttl_seconds);
  // Deletes the same keys (gc).
  Status Delete(const std::string& workflow_id);

  // The value of any key; nullopt when it does not exist.
  Result<std::optional<std::string>> Get(const std::string& key);

  Status Ping();

  // Whether the last operation that went to Redis succeeded; false before the
  // first. For readiness and the store_up{store="redis"} metric.
  bool healthy() const { return healthy_; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };
  struct ReplyDeleter {
    void operator()(redisReply* reply) const;
  };
  using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;
  // One command's argv. The views point at strings that outlive the exchange.
  using Command = std::vector<std::string_view>;

  enum Script { kPublishIfNewer, kOwnTaskKeys, kScriptCount };
  struct ScriptCall {
    Script script;
    std::vector<std::string> keys;
    std::vector<std::string_view> args;
  };

  Status Connect();
  // Sends the commands in one pipeline and reads every reply. A transport error
  // drops the context. Error replies are returned as replies.
  Result<std::vector<ReplyPtr>> Exchange(const std::vector<Command>& commands);
  // Exchange on a connected context, sent once more on a fresh connection when
  // a kept one turns out broken.
  Result<std::vector<ReplyPtr>> Run(const std::vector<Command>& commands);
  // Runs the calls with EVALSHA, loading the scripts when their digests are
  // unknown or Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH). The
  // first error reply becomes the Status.
  Result<std::vector<ReplyPtr>> RunScripts(const std::vector<ScriptCall>& calls);
  Status LoadScripts();
  // Calls kOwnTaskKeys with `args` on every page of SCAN over the workflow's
  // task checkpoint keys.
  Status ForEachOwnTaskKeyPage(const std::string& workflow_id,
                               const std::vector<std::string_view>& args);
  Status Track(Status status);

  RedisConfig config_;
  std::unique_ptr<redisContext, ContextDeleter> context_;
  std::array<std::string, kScriptCount> digests_;  // SHA1 from SCRIPT LOAD; empty: not loaded
  bool healthy_ = false;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_CACHE_LIVE_CACHE_H_
