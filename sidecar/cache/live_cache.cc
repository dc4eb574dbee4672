#include "cache/live_cache.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <deque>
#include <utility>

#include "cache/lua_scripts.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/json.h"

namespace taskmaster::sidecar {
namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// SCAN's MATCH is a glob: the IDs' own '*', '?', '[', ']' and '\' must match
// only themselves.
std::string EscapeGlob(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// A transport failure of context `c`; `saved_errno` is errno right after the
// failing call. hiredis reports a timeout as an I/O error: EAGAIN from a read
// past SO_RCVTIMEO, ETIMEDOUT from a connect.
Status TransportStatus(const redisContext& c, int saved_errno, const RedisConfig& config,
                       bool connecting) {
  const std::string where = "redis " + config.Describe() + ": ";
  if (c.err == REDIS_ERR_IO &&
      (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT)) {
    if (connecting) {
      return Status::Timeout(where + "no connection within " +
                             std::to_string(config.connect_timeout.count()) + " ms");
    }
    return Status::Timeout(where + "no reply within " +
                           std::to_string(config.command_timeout.count()) + " ms");
  }
  return Status::Unavailable(where + c.errstr);
}

// An error reply: the server is up and said no.
Status ErrorReplyStatus(const redisReply& reply, const RedisConfig& config,
                        std::string_view command) {
  const std::string_view text(reply.str, reply.len);
  const std::string_view code = text.substr(0, text.find(' '));
  const std::string message =
      "redis " + config.Describe() + ": " + std::string(command) + ": " + std::string(text);
  // Replies that mean "not now": loading a dataset, a script running too long,
  // a replica without its primary, a failover, memory full, or scripts flushed
  // again while this client was reloading them.
  static constexpr std::string_view kTryLater[] = {"LOADING",  "BUSY", "MASTERDOWN", "TRYAGAIN",
                                                   "READONLY", "OOM",  "NOSCRIPT"};
  if (std::find(std::begin(kTryLater), std::end(kTryLater), code) != std::end(kTryLater)) {
    return Status::Unavailable(message);
  }
  if (code == "WRONGTYPE") return Status::Corruption(message);
  return Status::InvalidArgument(message);
}

Status UnexpectedReply(const redisReply& reply, const RedisConfig& config, std::string_view command,
                       std::string_view expected) {
  return Status::Corruption("redis " + config.Describe() + ": " + std::string(command) +
                            ": expected " + std::string(expected) + ", got a reply of type " +
                            std::to_string(reply.type));
}

bool IsNoScript(const redisReply& reply) {
  return reply.type == REDIS_REPLY_ERROR &&
         StartsWith(std::string_view(reply.str, reply.len), "NOSCRIPT");
}

// The generation of a document about to be published, once it is known to be
// a valid document for this key in its stored form.
Result<int64_t> PublishableGeneration(const std::string& document, const std::string& workflow_id,
                                      const std::string& task_id) {
  const std::string what =
      "publish: checkpoint of workflow '" + workflow_id + "' task '" + task_id + "': ";
  Result<Checkpoint> checkpoint = VerifyCheckpoint(document);
  if (!checkpoint.ok()) return Status::InvalidArgument(what + checkpoint.status().message());
  if (document.back() != '}') {
    return Status::InvalidArgument(what + "trailing whitespace (the stored form has none)");
  }
  const CheckpointFields& fields = checkpoint->fields;
  if (fields.workflow_id != workflow_id || fields.task_id != task_id) {
    return Status::InvalidArgument(what + "the document is workflow '" + fields.workflow_id +
                                   "' task '" + fields.task_id + "'");
  }
  return fields.generation;
}

// The generation of a document from the store (PublishCheck::kFromStore): read
// from the envelope as the publish script reads a stored one, without
// verifying the rest.
Result<int64_t> StoredGeneration(const std::string& document, const std::string& workflow_id,
                                 const std::string& task_id) {
  constexpr std::string_view kStart = "{\"format\":";
  constexpr std::string_view kField = ",\"generation\":";
  const std::string_view doc(document);
  size_t at = doc.substr(0, 4096).find(kField);
  if (doc.substr(0, kStart.size()) == kStart && at != std::string_view::npos) {
    at += kField.size();
    int64_t generation = 0;
    size_t digits = 0;
    for (; at < doc.size() && doc[at] >= '0' && doc[at] <= '9' && digits < 18; ++at, ++digits) {
      generation = generation * 10 + (doc[at] - '0');
    }
    if (digits > 0 && at < doc.size() && doc[at] == ',' && doc.back() == '}') return generation;
  }
  return Status::InvalidArgument("publish: checkpoint of workflow '" + workflow_id + "' task '" +
                                 task_id + "': no generation in its envelope");
}

}  // namespace

std::string WorkflowStateKey(std::string_view workflow_id) {
  return "workflow:state:" + std::string(workflow_id);
}

std::string WorkflowCheckpointKey(std::string_view workflow_id) {
  return "checkpoint:workflow:" + std::string(workflow_id);
}

std::string TaskCheckpointKey(std::string_view workflow_id, std::string_view task_id) {
  return "checkpoint:task:" + std::string(workflow_id) + ":" + std::string(task_id);
}

std::string CheckpointWritersKey(std::string_view workflow_id) {
  return "checkpoint:writers:" + std::string(workflow_id);
}

std::string CheckpointGuardKey(std::string_view workflow_id, int64_t shard) {
  return "checkpoint:guard:" + std::string(workflow_id) + ":" + std::to_string(shard);
}

Result<std::string> WorkflowCheckpointDocument(const WorkflowState& state, int64_t fence,
                                               int64_t seq, int64_t now_ms) {
  JsonWriter payload;
  payload.StartObject();
  WriteTaskCounts(state.counts, &payload);
  payload.Key("status").String(ToString(state.status));
  payload.Key("version").Int64(state.version);
  payload.EndObject();
  CheckpointFields fields;
  fields.workflow_id = state.workflow_id;
  fields.task_id = kWorkflowCheckpointTaskId;
  fields.fence = fence;
  fields.seq = seq;
  fields.generation = state.version;
  fields.created_at_ms = now_ms;
  return EncodeCheckpoint(fields, payload.Take());
}

void LiveCache::ContextDeleter::operator()(redisContext* context) const {
  redisFree(context);
}

void LiveCache::ReplyDeleter::operator()(redisReply* reply) const {
  freeReplyObject(reply);
}

LiveCache::LiveCache(RedisConfig config) : config_(std::move(config)) {
  assert(config_.connect_timeout.count() > 0 && config_.command_timeout.count() > 0);
}

LiveCache::~LiveCache() = default;

Status LiveCache::Connect() {
  const timeval connect_timeout = ToTimeval(config_.connect_timeout);
  std::unique_ptr<redisContext, ContextDeleter> context(
      config_.unix_path.empty()
          ? redisConnectWithTimeout(config_.host.c_str(), config_.port, connect_timeout)
          : redisConnectUnixWithTimeout(config_.unix_path.c_str(), connect_timeout));
  const int saved_errno = errno;
  if (!context) {
    return Status::Unavailable("redis " + config_.Describe() + ": cannot allocate a connection");
  }
  if (context->err) return TransportStatus(*context, saved_errno, config_, /*connecting=*/true);
  if (redisSetTimeout(context.get(), ToTimeval(config_.command_timeout)) != REDIS_OK) {
    return TransportStatus(*context, errno, config_, /*connecting=*/true);
  }
  context_ = std::move(context);
  ++connection_;

  std::vector<Command> setup;
  if (!config_.password.empty()) {
    Command auth = {"AUTH"};
    if (!config_.username.empty()) auth.push_back(config_.username);
    auth.push_back(config_.password);
    setup.push_back(std::move(auth));
  }
  const std::string db = std::to_string(config_.db);
  if (config_.db != 0) setup.push_back({"SELECT", db});
  if (setup.empty()) return Status::OK();
  Result<std::vector<ReplyPtr>> replies = Exchange(setup);
  if (!replies.ok()) return replies.status();
  for (const ReplyPtr& reply : *replies) {
    if (reply->type == REDIS_REPLY_ERROR) {
      // A connection that is not signed in or not on its database must not be used.
      context_.reset();
      return ErrorReplyStatus(*reply, config_, "connection setup");
    }
  }
  return Status::OK();
}

Result<std::vector<LiveCache::ReplyPtr>> LiveCache::Exchange(const std::vector<Command>& commands) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const Command& command : commands) {
    argv.clear();
    lengths.clear();
    for (std::string_view arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      const Status status = TransportStatus(*context_, errno, config_, /*connecting=*/false);
      context_.reset();
      return status;
    }
  }
  std::vector<ReplyPtr> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(context_.get(), &reply) != REDIS_OK) {
      const Status status = TransportStatus(*context_, errno, config_, /*connecting=*/false);
      context_.reset();
      return status;
    }
    replies.emplace_back(static_cast<redisReply*>(reply));
  }
  return replies;
}

Result<std::vector<LiveCache::ReplyPtr>> LiveCache::Run(const std::vector<Command>& commands) {
  const bool kept = context_ != nullptr;
  if (!kept) TM_RETURN_IF_ERROR(Connect());
  Result<std::vector<ReplyPtr>> replies = Exchange(commands);
  // A kept connection may have been closed by a Redis that restarted since the
  // last call, which says nothing about Redis now. Every call is idempotent, so
  // it goes once more on a fresh connection. Not after a timeout: a Redis that
  // does not answer would only make the caller wait twice.
  if (kept && !replies.ok() && replies.status().IsUnavailable()) {
    TM_RETURN_IF_ERROR(Connect());
    replies = Exchange(commands);
  }
  return replies;
}

Status LiveCache::LoadScripts() {
  const std::string sources[kScriptCount] = {std::string(PublishLua()),
                                             std::string(BeginWholeLua()), OwnTaskKeysLua()};
  std::vector<Command> commands;
  for (const std::string& source : sources) commands.push_back({"SCRIPT", "LOAD", source});
  Result<std::vector<ReplyPtr>> replies = Run(commands);
  if (!replies.ok()) return replies.status();
  for (size_t i = 0; i < kScriptCount; ++i) {
    const redisReply& reply = *(*replies)[i];
    if (reply.type == REDIS_REPLY_ERROR) return ErrorReplyStatus(reply, config_, "SCRIPT LOAD");
    if (reply.type != REDIS_REPLY_STRING) {
      return UnexpectedReply(reply, config_, "SCRIPT LOAD", "a digest");
    }
    digests_[i].assign(reply.str, reply.len);
  }
  return Status::OK();
}

Result<std::vector<LiveCache::ReplyPtr>> LiveCache::RunScripts(
    const std::vector<ScriptCall>& calls) {
  if (digests_[0].empty()) TM_RETURN_IF_ERROR(LoadScripts());
  // A digest is the SHA1 of the script's text, so these commands stay valid
  // when the scripts are loaded again below.
  std::deque<std::string> key_counts;  // a deque: its strings never move
  std::vector<Command> commands;
  commands.reserve(calls.size());
  for (const ScriptCall& call : calls) {
    Command command = {"EVALSHA", digests_[call.script],
                       key_counts.emplace_back(std::to_string(call.keys.size()))};
    command.insert(command.end(), call.keys.begin(), call.keys.end());
    command.insert(command.end(), call.args.begin(), call.args.end());
    commands.push_back(std::move(command));
  }
  Result<std::vector<ReplyPtr>> replies = Run(commands);
  if (!replies.ok()) return replies.status();
  const auto no_script = [](const ReplyPtr& reply) { return IsNoScript(*reply); };
  if (std::any_of(replies->begin(), replies->end(), no_script)) {
    TM_RETURN_IF_ERROR(LoadScripts());
    replies = Run(commands);
    if (!replies.ok()) return replies.status();
  }
  for (const ReplyPtr& reply : *replies) {
    if (reply->type == REDIS_REPLY_ERROR) return ErrorReplyStatus(*reply, config_, "EVALSHA");
  }
  return replies;
}

Status LiveCache::ForEachOwnTaskKeyPage(const std::string& workflow_id,
                                        const std::vector<std::string_view>& args) {
  const std::string pattern = EscapeGlob(TaskCheckpointKey(workflow_id, "")) + "*";
  std::string cursor = "0";
  do {
    Result<std::vector<ReplyPtr>> replies =
        Run({{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}});
    if (!replies.ok()) return replies.status();
    const redisReply& reply = *replies->front();
    if (reply.type == REDIS_REPLY_ERROR) return ErrorReplyStatus(reply, config_, "SCAN");
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2 ||
        reply.element[0]->type != REDIS_REPLY_STRING ||
        reply.element[1]->type != REDIS_REPLY_ARRAY) {
      return UnexpectedReply(reply, config_, "SCAN", "[cursor, keys]");
    }
    cursor.assign(reply.element[0]->str, reply.element[0]->len);
    const redisReply& page = *reply.element[1];
    ScriptCall call{kOwnTaskKeys, {}, args};
    for (size_t i = 0; i < page.elements; ++i) {
      const redisReply& key = *page.element[i];
      if (key.type != REDIS_REPLY_STRING) return UnexpectedReply(key, config_, "SCAN", "a key");
      call.keys.emplace_back(key.str, key.len);
    }
    if (!call.keys.empty()) {
      Result<std::vector<ReplyPtr>> done = RunScripts({call});
      if (!done.ok()) return done.status();
    }
  } while (cursor != "0");
  return Status::OK();
}

Status LiveCache::Track(Status status) {
  healthy_ = status.ok();
  return status;
}

struct LiveCache::PublishPlan {
  std::string workflow_id;
  std::string writers_key;
  std::string guard_key;  // empty: no guard (a whole publish, or no task checkpoints)
  std::string guard_value;
  std::string shard;
  // The checkpoints, the tasks' first and the summary last, with their
  // documents (the caller's) and generations.
  std::vector<std::string> keys;
  std::vector<std::string_view> documents;
  std::vector<std::string> generations;
  std::string state_key;
  std::string state_json;
  std::string version;
};

Result<LiveCache::PublishPlan> LiveCache::Plan(
    const WorkflowState& state, const std::map<std::string, std::string>& task_checkpoints,
    const std::string& workflow_checkpoint_doc, PublishCheck check) {
  PublishPlan plan;
  plan.workflow_id = state.workflow_id;
  plan.writers_key = CheckpointWritersKey(state.workflow_id);
  plan.keys.reserve(task_checkpoints.size() + 1);
  plan.documents.reserve(task_checkpoints.size() + 1);
  plan.generations.reserve(task_checkpoints.size() + 1);
  const auto add = [&](const std::string& task_id, const std::string& document,
                       std::string key) -> Status {
    Result<int64_t> generation = check == PublishCheck::kVerify
                                     ? PublishableGeneration(document, state.workflow_id, task_id)
                                     : StoredGeneration(document, state.workflow_id, task_id);
    if (!generation.ok()) return generation.status();
    plan.keys.push_back(std::move(key));
    plan.documents.push_back(document);
    plan.generations.push_back(std::to_string(*generation));
    return Status::OK();
  };
  // Checkpoints first and the state last (after the summary checkpoint), so
  // that a reader who sees a new version finds the checkpoints it counts
  // already there: a pipeline's calls, and a transaction's commands, run in
  // order.
  for (const auto& [task_id, document] : task_checkpoints) {
    TM_RETURN_IF_ERROR(add(task_id, document, TaskCheckpointKey(state.workflow_id, task_id)));
  }
  TM_RETURN_IF_ERROR(add(kWorkflowCheckpointTaskId, workflow_checkpoint_doc,
                         WorkflowCheckpointKey(state.workflow_id)));
  plan.state_key = WorkflowStateKey(state.workflow_id);
  plan.state_json = WorkflowStateToJson(state);
  plan.version = std::to_string(state.version);
  return plan;
}

namespace {

// The publish script's answer: {written, claimed}.
bool ReadPublishReply(const redisReply& reply, int64_t* written, bool* claimed) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2 ||
      reply.element[0]->type != REDIS_REPLY_INTEGER ||
      reply.element[1]->type != REDIS_REPLY_INTEGER) {
    return false;
  }
  *written = reply.element[0]->integer;
  *claimed = reply.element[1]->integer == 1;
  return true;
}

bool IsString(const redisReply& reply, std::string_view value) {
  return reply.type == REDIS_REPLY_STRING && std::string_view(reply.str, reply.len) == value;
}

bool IsOne(const redisReply& reply) {
  return reply.type == REDIS_REPLY_INTEGER && reply.integer == 1;
}

}  // namespace

LiveCache::ScriptCall LiveCache::PublishCall(const PublishPlan& plan, std::string_view mode,
                                             size_t begin, size_t end, bool with_state,
                                             std::deque<std::string>* owned) {
  ScriptCall call{kPublish, {plan.writers_key}, {}};
  call.args = {owned->emplace_back(std::to_string(end - begin)), mode, plan.guard_value,
               plan.shard};
  if (!plan.guard_key.empty()) call.keys.push_back(plan.guard_key);
  for (size_t i = begin; i < end; ++i) {
    call.keys.push_back(plan.keys[i]);
    call.args.push_back(plan.documents[i]);
    call.args.push_back(plan.generations[i]);
  }
  if (with_state) {
    call.keys.push_back(plan.state_key);
    call.args.push_back(plan.state_json);
    call.args.push_back(plan.version);
  }
  return call;
}

Result<LiveCache::PublishOutcome> LiveCache::PublishCompared(
    const PublishPlan& plan, std::string_view mode,
    const std::map<int64_t, int64_t>& shard_fences) {
  std::deque<std::string> owned;  // a deque: its strings never move
  std::vector<ScriptCall> calls;
  if (mode == "whole") {
    // At least one call, so that the epoch is bumped even with no shards.
    auto fence = shard_fences.begin();
    do {
      ScriptCall& begin = calls.emplace_back(ScriptCall{kBeginWhole, {plan.writers_key}, {}});
      for (; fence != shard_fences.end() && begin.keys.size() < kPublishKeysPerCall; ++fence) {
        begin.keys.push_back(CheckpointGuardKey(plan.workflow_id, fence->first));
        begin.args.push_back(owned.emplace_back(std::to_string(fence->first)));
        begin.args.push_back(owned.emplace_back(std::to_string(fence->second)));
      }
    } while (fence != shard_fences.end());
  }
  const size_t first_publish = calls.size();
  for (size_t begin = 0; begin < plan.keys.size(); begin += kPublishKeysPerCall) {
    const size_t end = std::min(plan.keys.size(), begin + kPublishKeysPerCall);
    calls.push_back(PublishCall(plan, mode, begin, end, end == plan.keys.size(), &owned));
  }
  Result<std::vector<ReplyPtr>> replies = RunScripts(calls);
  if (!replies.ok()) return replies.status();
  PublishOutcome outcome;
  for (size_t i = first_publish; i < replies->size(); ++i) {
    int64_t written = 0;
    if (!ReadPublishReply(*(*replies)[i], &written, &outcome.claimed)) {
      return UnexpectedReply(*(*replies)[i], config_, "EVALSHA", "{written, claimed}");
    }
    outcome.refused = outcome.refused || written < 0;
  }
  return outcome;
}

Result<bool> LiveCache::PublishGuarded(const WriterId& id, const PublishPlan& plan,
                                       const std::string& guard) {
  const bool prepared = watching_ == std::make_pair(id, connection_) && context_ != nullptr;
  // Whatever follows ends every WATCH of the connection: an UNWATCH or an EXEC.
  watching_.reset();
  const Command watch = {"WATCH", plan.writers_key, plan.guard_key};
  const Command exists = {"EXISTS", plan.writers_key};
  const Command get = {"GET", plan.guard_key};
  if (!prepared) {
    Result<std::vector<ReplyPtr>> seen = Run({watch, exists, get});
    if (!seen.ok()) return seen.status();
    if (!IsOne(*(*seen)[1]) || !IsString(*(*seen)[2], guard)) {
      Result<std::vector<ReplyPtr>> unwatched = Run({{"UNWATCH"}});
      if (!unwatched.ok()) return unwatched.status();
      return false;
    }
  }
  // The task documents as plain MSETs, then the summary checkpoint and the
  // state compared and the guard set by the publish script. It goes as EVAL:
  // a NOSCRIPT inside EXEC would come after the MSETs ran. After EXEC, which
  // ends every WATCH of the connection, the two keys are watched again for
  // this writer's next publish, which then needs no round trip of its own.
  std::deque<std::string> owned;
  std::vector<Command> commands = {{"MULTI"}};
  const size_t tasks = plan.keys.size() - 1;
  for (size_t begin = 0; begin < tasks; begin += kPublishKeysPerCall) {
    Command& mset = commands.emplace_back(Command{"MSET"});
    for (size_t i = begin; i < std::min(tasks, begin + kPublishKeysPerCall); ++i) {
      mset.push_back(plan.keys[i]);
      mset.push_back(plan.documents[i]);
    }
  }
  const ScriptCall last = PublishCall(plan, "changes", tasks, tasks + 1, true, &owned);
  Command& eval = commands.emplace_back(
      Command{"EVAL", PublishLua(), owned.emplace_back(std::to_string(last.keys.size()))});
  eval.insert(eval.end(), last.keys.begin(), last.keys.end());
  eval.insert(eval.end(), last.args.begin(), last.args.end());
  const size_t queued = commands.size() - 1;
  commands.push_back({"EXEC"});
  commands.insert(commands.end(), {watch, exists, get});
  // Never sent again on a fresh connection: the WATCH is on this one.
  Result<std::vector<ReplyPtr>> replies = Exchange(commands);
  if (!replies.ok()) return replies.status();
  const redisReply& exec = *(*replies)[queued + 1];
  if (exec.type == REDIS_REPLY_NIL) {  // a watched key changed: nothing ran
    Result<std::vector<ReplyPtr>> unwatched = Run({{"UNWATCH"}});
    if (!unwatched.ok()) return unwatched.status();
    return false;
  }
  if (exec.type == REDIS_REPLY_ERROR) return ErrorReplyStatus(exec, config_, "EXEC");
  if (exec.type != REDIS_REPLY_ARRAY || exec.elements != queued) {
    return UnexpectedReply(exec, config_, "EXEC", "a reply per queued command");
  }
  for (size_t i = 0; i < exec.elements; ++i) {
    if (exec.element[i]->type == REDIS_REPLY_ERROR) {
      return ErrorReplyStatus(*exec.element[i], config_, "EXEC");
    }
  }
  int64_t written = 0;
  bool claimed = false;
  // Under the WATCH the writers hash was there and the guard this writer's.
  if (!ReadPublishReply(*exec.element[exec.elements - 1], &written, &claimed) || written < 0 ||
      !claimed) {
    return UnexpectedReply(exec, config_, "EXEC", "{written, 1}");
  }
  if (IsOne(*replies->rbegin()[1]) && IsString(*replies->rbegin()[0], plan.guard_value)) {
    watching_ = std::make_pair(id, connection_);
  }
  return true;
}

Status LiveCache::Publish(const WorkflowState& state,
                          const std::map<std::string, std::string>& task_checkpoints,
                          const std::map<int64_t, int64_t>& shard_fences,
                          const std::string& workflow_checkpoint_doc, PublishCheck check) {
  Result<PublishPlan> plan = Plan(state, task_checkpoints, workflow_checkpoint_doc, check);
  if (!plan.ok()) return plan.status();
  return Track(PublishCompared(*plan, "whole", shard_fences).status());
}

Status LiveCache::PublishChanges(const ShardWriter& writer, const WorkflowState& state,
                                 const std::map<std::string, std::string>& task_checkpoints,
                                 const std::string& workflow_checkpoint_doc) {
  Result<PublishPlan> plan =
      Plan(state, task_checkpoints, workflow_checkpoint_doc, PublishCheck::kFromStore);
  if (!plan.ok()) return plan.status();
  // Only a batch with task checkpoints has a guard to keep: the state and the
  // summary checkpoint are always compared.
  const WriterId id(state.workflow_id, writer.shard);
  if (!task_checkpoints.empty()) {
    plan->guard_key = CheckpointGuardKey(state.workflow_id, writer.shard);
    plan->guard_value = std::to_string(writer.fence) + " " + std::to_string(writer.seq);
    plan->shard = std::to_string(writer.shard);
  }
  PublishOutcome outcome;
  bool guarded = false;
  auto known = writers_.find(id);
  if (!plan->guard_key.empty() && known != writers_.end()) {
    Result<bool> done = PublishGuarded(id, *plan, known->second.guard);
    if (!done.ok()) return Track(done.status());
    guarded = *done;
    outcome.claimed = guarded;
  }
  if (!guarded) {
    Result<PublishOutcome> compared = PublishCompared(*plan, "changes", {});
    if (!compared.ok()) return Track(compared.status());
    outcome = *compared;
  }
  Track(Status::OK());
  if (outcome.refused || !outcome.claimed) {
    writers_.erase(id);
  } else {
    if (known == writers_.end() && writers_.size() >= kMaxWriters) {
      writers_.erase(std::min_element(
          writers_.begin(), writers_.end(),
          [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; }));
    }
    writers_[id] = WriterSync{plan->guard_value, ++uses_};
  }
  if (outcome.refused) {
    return Status::NotFound("redis " + config_.Describe() + ": workflow " + state.workflow_id +
                            " is not in Redis (no " + plan->writers_key +
                            "): a batch alone is not written; publish the workflow whole");
  }
  return Status::OK();
}

Result<std::vector<std::string>> LiveCache::WriterKeys(const std::string& workflow_id) {
  std::vector<std::string> keys = {CheckpointWritersKey(workflow_id)};
  Result<std::vector<ReplyPtr>> replies = Run({{"HKEYS", keys.front()}});
  if (!replies.ok()) return replies.status();
  const redisReply& reply = *replies->front();
  if (reply.type == REDIS_REPLY_ERROR) return ErrorReplyStatus(reply, config_, "HKEYS");
  if (reply.type != REDIS_REPLY_ARRAY) return UnexpectedReply(reply, config_, "HKEYS", "fields");
  for (size_t i = 0; i < reply.elements; ++i) {
    const redisReply& field = *reply.element[i];
    if (field.type != REDIS_REPLY_STRING)
      return UnexpectedReply(field, config_, "HKEYS", "a field");
    // The shard fields are numbers; "epoch" is not a shard.
    int64_t shard = 0;
    const auto [end, error] = std::from_chars(field.str, field.str + field.len, shard);
    if (error == std::errc() && end == field.str + field.len) {
      keys.push_back(CheckpointGuardKey(workflow_id, shard));
    }
  }
  return keys;
}

Status LiveCache::Expire(const std::string& workflow_id, int64_t ttl_seconds) {
  if (ttl_seconds <= 0) {
    return Status::InvalidArgument("redis expire: the TTL must be positive, got " +
                                   std::to_string(ttl_seconds) + " s");
  }
  Result<std::vector<std::string>> writer_keys = WriterKeys(workflow_id);
  if (!writer_keys.ok()) return Track(writer_keys.status());
  const std::string ttl = std::to_string(ttl_seconds);
  std::vector<std::string> keys = {WorkflowStateKey(workflow_id),
                                   WorkflowCheckpointKey(workflow_id)};
  keys.insert(keys.end(), writer_keys->begin(), writer_keys->end());
  std::vector<Command> commands;
  for (const std::string& key : keys) commands.push_back({"EXPIRE", key, ttl});
  Result<std::vector<ReplyPtr>> replies = Run(commands);
  if (!replies.ok()) return Track(replies.status());
  for (const ReplyPtr& reply : *replies) {
    if (reply->type == REDIS_REPLY_ERROR) {
      return Track(ErrorReplyStatus(*reply, config_, "EXPIRE"));
    }
  }
  return Track(ForEachOwnTaskKeyPage(workflow_id, {workflow_id, "expire", ttl}));
}

Status LiveCache::Delete(const std::string& workflow_id) {
  Result<std::vector<std::string>> writer_keys = WriterKeys(workflow_id);
  if (!writer_keys.ok()) return Track(writer_keys.status());
  std::vector<std::string> keys = {WorkflowStateKey(workflow_id),
                                   WorkflowCheckpointKey(workflow_id)};
  keys.insert(keys.end(), writer_keys->begin(), writer_keys->end());
  Command del = {"DEL"};
  del.insert(del.end(), keys.begin(), keys.end());
  Result<std::vector<ReplyPtr>> replies = Run({del});
  if (!replies.ok()) return Track(replies.status());
  if (replies->front()->type == REDIS_REPLY_ERROR) {
    return Track(ErrorReplyStatus(*replies->front(), config_, "DEL"));
  }
  return Track(ForEachOwnTaskKeyPage(workflow_id, {workflow_id, "del"}));
}

Result<std::optional<std::string>> LiveCache::Get(const std::string& key) {
  Result<std::vector<ReplyPtr>> replies = Run({{"GET", key}});
  if (!replies.ok()) return Track(replies.status());
  const redisReply& reply = *replies->front();
  switch (reply.type) {
    case REDIS_REPLY_NIL:
      Track(Status::OK());
      return std::optional<std::string>();
    case REDIS_REPLY_STRING:
      Track(Status::OK());
      return std::optional<std::string>(std::string(reply.str, reply.len));
    case REDIS_REPLY_ERROR:
      return Track(ErrorReplyStatus(reply, config_, "GET"));
    default:
      return Track(UnexpectedReply(reply, config_, "GET", "a string or nil"));
  }
}

Status LiveCache::Ping() {
  Result<std::vector<ReplyPtr>> replies = Run({{"PING"}});
  if (!replies.ok()) return Track(replies.status());
  const redisReply& reply = *replies->front();
  if (reply.type == REDIS_REPLY_ERROR) return Track(ErrorReplyStatus(reply, config_, "PING"));
  if (reply.type != REDIS_REPLY_STATUS || std::string_view(reply.str, reply.len) != "PONG") {
    return Track(UnexpectedReply(reply, config_, "PING", "PONG"));
  }
  return Track(Status::OK());
}

}  // namespace taskmaster::sidecar
