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
// and keys of its own, not for people, that keep writers from moving keys
// backwards (tm-sidecar rebuild-cache writes them again):
//
//   checkpoint:writers:<key>          a hash: "epoch", bumped by every whole
//                                     publish, and a field per shard with a guard
//   checkpoint:guard:<key>:<shard>    "<fence> <seq>": the shard's writer that
//                                     publishes guarded, and its last batch
//
// IDs go into keys as they are (they may hold ':', '/', '*'); keys and values
// travel as command arguments, never spliced into command text.
//
// No key ever moves backwards: the state only to a greater `version`, a
// checkpoint only to a greater `generation`, however writers race (a stale
// fenced sidecar beside the current one, a refill beside a flush, two sidecars
// with the same data). Two ways of writing keep that:
//
//   Compared   A Lua script compares each key with what Redis holds before it
//              writes it (a stored value that does not parse is overwritten).
//              Publish (a whole workflow: a refill, rebuild-cache, a new
//              workflow) always writes so, after bumping the epoch and raising
//              each shard's guard to the fence its writer holds in the store.
//              PublishChanges writes so when it cannot write guarded, and then
//              claims the shard's guard unless it holds a greater fence.
//   Guarded    PublishChanges of a writer whose last publish claimed or kept
//              the guard, and nobody touched the guard or the writers hash
//              since: the task documents go with plain MSETs in a MULTI/EXEC
//              that WATCHes both keys, so the check holds at the moment EXEC
//              runs, however late. Only the summary checkpoint and the state,
//              which every shard writes, are compared.
//
// Why guarded writes are safe: a task's documents are committed only by its
// shard's writer, the one with the shard's current fence, which publishes
// each batch before committing the next; a batch whose publish failed but is
// still in flight fails its WATCH once the writer writes again or a whole
// publish runs (each changes a key it watches). A guard untouched since this writer
// wrote it means that no newer writer of the shard published (it would have
// claimed the guard) and no whole publish wrote the shard's keys (it bumps
// the epoch, and raises the guard when the store knows a newer fence): so
// Redis holds nothing newer for those keys than this batch. A stale writer
// fails the check once the current one published or a refill ran, and from
// then on only writes compared, never claiming a guard that holds a greater
// fence. Each operation is idempotent, which is what allows sending a call
// again. lua_scripts.cc has the scripts.
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
// nothing is retried here: backoff.h is the caller's. A guarded write is never
// resent on another connection (its WATCH stays on the first): a broken
// connection fails the call. When its check fails, the batch is compared.
//
// Not thread-safe: one thread at a time (the sidecar's flusher, or a command).
// hiredis writes with write(2), so the process must ignore SIGPIPE (as
// tm-sidecar's main does): a write to a connection Redis reset could end it.
#ifndef TASKMASTER_SIDECAR_CACHE_LIVE_CACHE_H_
#define TASKMASTER_SIDECAR_CACHE_LIVE_CACHE_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/redis_url.h"
#include "taskmaster/state.h"
#include "taskmaster/status.h"

struct redisContext;
struct redisReply;

namespace taskmaster::sidecar {

// The key names above.
std::string WorkflowStateKey(std::string_view workflow_id);
std::string WorkflowCheckpointKey(std::string_view workflow_id);
std::string TaskCheckpointKey(std::string_view workflow_id, std::string_view task_id);
std::string CheckpointWritersKey(std::string_view workflow_id);
std::string CheckpointGuardKey(std::string_view workflow_id, int64_t shard);

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

// One shard's sidecar as the writer of a batch (PublishChanges): the shard
// whose tasks the checkpoints are, the fence it holds, and the batch's highest
// seq.
struct ShardWriter {
  int64_t shard = 0;
  int64_t fence = 0;
  int64_t seq = 0;
};

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

  // Writes the workflow's whole state and checkpoints, each only if newer than
  // what Redis holds, compared (see the file comment). `task_checkpoints` maps
  // task ID to its current checkpoint document and `workflow_checkpoint_doc`
  // is WorkflowCheckpointDocument(state, ...): each must verify and name this
  // workflow (and that task, or "*"), else InvalidArgument and nothing is sent
  // (with PublishCheck::kFromStore only the generation is read; see there).
  //
  // `shard_fences` is the fence each shard's writer holds, read from the store
  // after the documents (StateStore::LoadShardFences): each shard's guard is
  // raised to it, so that no older writer of the shard writes guarded again.
  // Empty when there are no task checkpoints (a new workflow).
  Status Publish(const WorkflowState& state,
                 const std::map<std::string, std::string>& task_checkpoints,
                 const std::map<int64_t, int64_t>& shard_fences,
                 const std::string& workflow_checkpoint_doc,
                 PublishCheck check = PublishCheck::kVerify);

  // Writes one committed batch of `writer`: the documents the store returned
  // (checked as PublishCheck::kFromStore), guarded when it can (see the file
  // comment). NotFound, with nothing written, when Redis does not hold the
  // workflow (a Redis restarted empty, flushed or evicting, or a workflow
  // never published whole): this batch alone would leave the earlier
  // checkpoints missing behind a current state, so the caller publishes the
  // workflow whole instead. The connection is healthy then.
  Status PublishChanges(const ShardWriter& writer, const WorkflowState& state,
                        const std::map<std::string, std::string>& task_checkpoints,
                        const std::string& workflow_checkpoint_doc);

  // Sets a TTL of ttl_seconds (> 0) on the workflow's keys: its state, its
  // summary checkpoint, its writers hash and guards, and every task checkpoint. Task keys are found
  // with SCAN and a task key is touched only if its document names this workflow (or does not
  // parse): `checkpoint:task:a:b:t` may belong to workflow "a" or "a:b".
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

  enum Script { kPublish, kBeginWhole, kOwnTaskKeys, kScriptCount };
  struct ScriptCall {
    Script script;
    std::vector<std::string> keys;
    std::vector<std::string_view> args;
  };
  // One publish's keys and arguments (live_cache.cc).
  struct PublishPlan;
  // What the publish script answered: whether Redis refused a batch for want
  // of the workflow, and whether the writer's guard was claimed.
  struct PublishOutcome {
    bool refused = false;
    bool claimed = false;
  };
  using WriterId = std::pair<std::string, int64_t>;  // (workflow, shard)
  // What a writer wrote to its guard at its last publish.
  struct WriterSync {
    std::string guard;  // "<fence> <seq>"
    uint64_t last_use = 0;
  };
  // Writers remembered at once; a writer forgotten publishes compared once.
  static constexpr size_t kMaxWriters = 64;

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
  // The keys and arguments of a publish, its documents checked as `check` says.
  Result<PublishPlan> Plan(const WorkflowState& state,
                           const std::map<std::string, std::string>& task_checkpoints,
                           const std::string& workflow_checkpoint_doc, PublishCheck check);
  // One publish script call over the plan's checkpoints [begin, end), and the
  // state when `with_state`; numbers it makes are kept in `owned`.
  static ScriptCall PublishCall(const PublishPlan& plan, std::string_view mode, size_t begin,
                                size_t end, bool with_state, std::deque<std::string>* owned);
  // Sends the plan as compared script calls ("whole", after raising the
  // guards to `shard_fences`, or "changes").
  Result<PublishOutcome> PublishCompared(const PublishPlan& plan, std::string_view mode,
                                         const std::map<int64_t, int64_t>& shard_fences);
  // The guarded path for writer `id`, whose last publish wrote `guard`: true
  // when the batch was written, false when it must be compared instead.
  Result<bool> PublishGuarded(const WriterId& id, const PublishPlan& plan,
                              const std::string& guard);
  // The workflow's writers hash and every guard key it lists.
  Result<std::vector<std::string>> WriterKeys(const std::string& workflow_id);
  // Calls kOwnTaskKeys with `args` on every page of SCAN over the workflow's
  // task checkpoint keys.
  Status ForEachOwnTaskKeyPage(const std::string& workflow_id,
                               const std::vector<std::string_view>& args);
  Status Track(Status status);

  RedisConfig config_;
  std::unique_ptr<redisContext, ContextDeleter> context_;
  std::array<std::string, kScriptCount> digests_;  // SHA1 from SCRIPT LOAD; empty: not loaded
  uint64_t connection_ = 0;                        // counts the connections made
  std::map<WriterId, WriterSync> writers_;
  uint64_t uses_ = 0;
  // The writer whose guarded publish left its two keys watched, on which
  // connection, and seen holding what it wrote: its next publish goes straight
  // to MULTI. Any EXEC ends it.
  std::optional<std::pair<WriterId, uint64_t>> watching_;
  bool healthy_ = false;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_CACHE_LIVE_CACHE_H_
