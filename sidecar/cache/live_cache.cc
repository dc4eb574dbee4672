#include "cache/live_cache.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <deque>
#include <utility>

#include "taskmaster/checkpoint.h"
#include "taskmaster/json.h"

namespace taskmaster::sidecar {
namespace {

constexpr std::string_view kUrlForms =
    "expected redis://[[user]:password@]host[:port][/db] or unix:///path/to/socket";

Status BadUrl(const std::string& problem) {
  return Status::InvalidArgument("redis URL: " + problem + " (" + std::string(kUrlForms) + ")");
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Credentials in a URL escape their reserved characters ('@', ':', '/') as %XX.
Result<std::string> PercentDecode(std::string_view text, const char* what) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int lo = hi >= 0 ? HexValue(text[i + 2]) : -1;
    if (lo < 0) {
      return BadUrl(std::string("the ") + what + " holds a '%' not followed by two hex digits");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// Digits only, no sign, at most `max`.
std::optional<int64_t> ParseBoundedInt(std::string_view text, int64_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

Status ParseHostPort(std::string_view hostport, RedisConfig* config) {
  std::string_view port_text;
  bool has_port = false;
  if (StartsWith(hostport, "[")) {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) {
      return BadUrl("'[' opens an IPv6 address that ']' never closes");
    }
    config->host = std::string(hostport.substr(1, close - 1));
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return BadUrl("expected ':port' after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = hostport.find(':');
    if (colon != std::string_view::npos &&
        hostport.find(':', colon + 1) != std::string_view::npos) {
      return BadUrl("an IPv6 address goes in brackets, as in redis://[::1]:6379");
    }
    config->host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = hostport.substr(colon + 1);
    }
  }
  if (config->host.empty()) return BadUrl("missing host");
  if (has_port) {
    const std::optional<int64_t> port = ParseBoundedInt(port_text, 65535);
    if (!port || *port == 0) {
      return BadUrl("port '" + std::string(port_text) + "' is not a number from 1 to 65535");
    }
    config->port = static_cast<int>(*port);
  }
  return Status::OK();
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

// ---- Lua ---------------------------------------------------------------------
//
// Shared by the checkpoint scripts: the envelope's fields before "payload"
// (format, IDs, fence, seq, generation, created_at) as a table, or nil when
// `head` does not start like a checkpoint document. Only that head is decoded:
// the payload may be large, or nested deeper than cjson accepts, which would
// make a valid document look like one "that does not parse". The first
// `,"payload":` is the envelope's, because `,"` cannot occur inside a JSON
// string (the quote would be escaped) and the fields before it are strings and
// integers. IDs are at most 256 bytes and escaping at most doubles them, so the
// head fits well inside the 4 KiB that GETRANGE reads.
constexpr std::string_view kEnvelopeLua = R"lua(
local HEAD_LAST_BYTE = 4095
local function envelope(head)
  local fields = string.match(head, '^(.-),"payload":')
  if not fields then return nil end
  local ok, doc = pcall(cjson.decode, fields .. '}')
  if ok and type(doc) == 'table' then return doc end
  return nil
end
)lua";

// One Publish call: KEYS[1..n] checkpoint keys, then optionally the state key
// as KEYS[n + 1]. ARGV[1] is n; checkpoint i gets its document ARGV[2i] when
// the generation ARGV[2i + 1] is greater than the stored one; the state key
// gets the state JSON ARGV[2n + 2] when its version ARGV[2n + 3] is greater.
// Each key is compared on its own, so no key ever moves backwards whatever the
// others do; the checkpoints that are newer are then written with one MSET
// (the script runs atomically, so that is the same as a SET each).
//
// A stored checkpoint's generation is read from its head without cjson: the
// document starts `{"format":` and its first `,"generation":` is the
// envelope's, because the fields before it are integers and strings, and
// inside a JSON string a quote after `n` would have to be escaped. A stored
// value that does not look like that is overwritten. The state (one per call)
// is decoded with cjson. SET and MSET drop a TTL on purpose: a workflow
// written again is live again, and Expire runs once it has finished.
constexpr std::string_view kPublishIfNewerLua = R"lua(
local HEAD_LAST_BYTE = 4095
local function stored_generation(key)
  local head = redis.call('GETRANGE', key, 0, HEAD_LAST_BYTE)
  if string.sub(head, 1, 10) ~= '{"format":' then return nil end
  local at = string.find(head, ',"generation":', 11, true)
  if not at then return nil end
  return tonumber(string.match(head, '^(%d+),"created_at":"', at + 14))
end
local n = tonumber(ARGV[1])
local writes = {}
for i = 1, n do
  local stored = stored_generation(KEYS[i])
  if not (stored and stored >= tonumber(ARGV[2 * i + 1])) then
    writes[#writes + 1] = KEYS[i]
    writes[#writes + 1] = ARGV[2 * i]
  end
end
local written = #writes / 2
if written > 0 then redis.call('MSET', unpack(writes)) end
if #KEYS > n then
  local key = KEYS[n + 1]
  local stored = redis.call('GET', key)
  local newer = true
  if stored then
    local ok, doc = pcall(cjson.decode, stored)
    if ok and type(doc) == 'table' and type(doc.version) == 'number'
        and doc.version >= tonumber(ARGV[2 * n + 3]) then
      newer = false
    end
  end
  if newer then
    redis.call('SET', key, ARGV[2 * n + 2])
    written = written + 1
  end
end
return written
)lua";

// KEYS: task checkpoint keys SCAN matched; ARGV[1] the workflow ID, ARGV[2]
// "expire" (ARGV[3] the TTL in seconds) or "del". A key is this workflow's when
// its document names it; one that does not parse may be anyone's and is
// treated as this one's; a key of another type is no checkpoint and is left
// alone.
constexpr std::string_view kOwnTaskKeysLua = R"lua(
local n = 0
for _, key in ipairs(KEYS) do
  local head = redis.pcall('GETRANGE', key, 0, HEAD_LAST_BYTE)
  if type(head) == 'string' then
    local doc = envelope(head)
    if doc == nil or doc.workflow_id == ARGV[1] then
      if ARGV[2] == 'del' then
        n = n + redis.call('DEL', key)
      else
        n = n + redis.call('EXPIRE', key, ARGV[3])
      end
    end
  end
end
return n
)lua";

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

std::string RedisConfig::Describe() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

Result<RedisConfig> ParseRedisUrl(std::string_view url) {
  if (StartsWith(url, "rediss://")) {
    return Status::InvalidArgument(
        "redis URL: rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS. Use "
        "redis:// on a trusted network, or reach Redis through a TLS tunnel (stunnel, a service "
        "mesh)");
  }
  RedisConfig config;
  if (StartsWith(url, "unix://")) {
    const std::string_view path = url.substr(std::string_view("unix://").size());
    if (!StartsWith(path, "/")) return BadUrl("the unix socket path must be absolute");
    config.unix_path = std::string(path);
    return config;
  }
  if (!StartsWith(url, "redis://")) {
    const size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return BadUrl("missing scheme");
    return BadUrl("unsupported scheme '" + std::string(url.substr(0, scheme_end)) + "'");
  }
  const std::string_view rest = url.substr(std::string_view("redis://").size());
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);

  // The last '@' ends the credentials: a password may hold an unescaped '@'.
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return BadUrl("credentials go as ':password@' or 'user:password@'");
    }
    Result<std::string> user = PercentDecode(userinfo.substr(0, colon), "user name");
    if (!user.ok()) return user.status();
    Result<std::string> password = PercentDecode(userinfo.substr(colon + 1), "password");
    if (!password.ok()) return password.status();
    if (password->empty()) return BadUrl("empty password");
    config.username = std::move(*user);
    config.password = std::move(*password);
    authority = authority.substr(at + 1);
  }
  TM_RETURN_IF_ERROR(ParseHostPort(authority, &config));

  if (tail.find_first_of("?#") != std::string_view::npos) {
    return BadUrl("query strings and fragments are not supported");
  }
  if (!tail.empty()) {
    const std::string_view db_text = tail.substr(1);  // after the '/'
    if (!db_text.empty()) {
      const std::optional<int64_t> db = ParseBoundedInt(db_text, INT_MAX);
      if (!db) {
        return BadUrl("database '" + std::string(db_text) + "' is not a non-negative integer");
      }
      config.db = static_cast<int>(*db);
    }
  }
  return config;
}

std::string WorkflowStateKey(std::string_view workflow_id) {
  return "workflow:state:" + std::string(workflow_id);
}

std::string WorkflowCheckpointKey(std::string_view workflow_id) {
  return "checkpoint:workflow:" + std::string(workflow_id);
}

std::string TaskCheckpointKey(std::string_view workflow_id, std::string_view task_id) {
  return "checkpoint:task:" + std::string(workflow_id) + ":" + std::string(task_id);
}

std::string_view CheckpointEnvelopeLua() {
  return kEnvelopeLua;
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
  const std::string sources[kScriptCount] = {
      std::string(kPublishIfNewerLua), std::string(kEnvelopeLua) + std::string(kOwnTaskKeysLua)};
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

Status LiveCache::Publish(const WorkflowState& state,
                          const std::map<std::string, std::string>& task_checkpoints,
                          const std::string& workflow_checkpoint_doc, PublishCheck check) {
  // Keys, counts and generations live here for the call; documents stay the
  // caller's.
  std::deque<std::string> owned;
  std::vector<ScriptCall> calls;
  calls.reserve(task_checkpoints.size() / kPublishKeysPerCall + 1);
  const auto add_checkpoint = [&](const std::string& task_id, const std::string& document,
                                  std::string key) -> Status {
    Result<int64_t> generation = check == PublishCheck::kVerify
                                     ? PublishableGeneration(document, state.workflow_id, task_id)
                                     : StoredGeneration(document, state.workflow_id, task_id);
    if (!generation.ok()) return generation.status();
    if (calls.empty() || calls.back().keys.size() == kPublishKeysPerCall) {
      // ARGV[1], the number of checkpoint keys, is set below.
      calls.push_back(ScriptCall{kPublishIfNewer, {}, std::vector<std::string_view>(1)});
    }
    calls.back().keys.push_back(std::move(key));
    calls.back().args.push_back(document);
    calls.back().args.push_back(owned.emplace_back(std::to_string(*generation)));
    return Status::OK();
  };
  // Checkpoints first and the state last (in the last call, after the summary
  // checkpoint), so that a reader who sees a new version finds the checkpoints
  // it counts already there: a pipeline's calls run in order.
  for (const auto& [task_id, document] : task_checkpoints) {
    TM_RETURN_IF_ERROR(
        add_checkpoint(task_id, document, TaskCheckpointKey(state.workflow_id, task_id)));
  }
  TM_RETURN_IF_ERROR(add_checkpoint(kWorkflowCheckpointTaskId, workflow_checkpoint_doc,
                                    WorkflowCheckpointKey(state.workflow_id)));
  for (ScriptCall& call : calls) {
    call.args[0] = owned.emplace_back(std::to_string(call.keys.size()));
  }
  ScriptCall& last = calls.back();
  last.keys.push_back(WorkflowStateKey(state.workflow_id));
  last.args.push_back(owned.emplace_back(WorkflowStateToJson(state)));
  last.args.push_back(owned.emplace_back(std::to_string(state.version)));
  return Track(RunScripts(calls).status());
}

Status LiveCache::Expire(const std::string& workflow_id, int64_t ttl_seconds) {
  if (ttl_seconds <= 0) {
    return Status::InvalidArgument("redis expire: the TTL must be positive, got " +
                                   std::to_string(ttl_seconds) + " s");
  }
  const std::string ttl = std::to_string(ttl_seconds);
  Result<std::vector<ReplyPtr>> replies =
      Run({{"EXPIRE", WorkflowStateKey(workflow_id), ttl},
           {"EXPIRE", WorkflowCheckpointKey(workflow_id), ttl}});
  if (!replies.ok()) return Track(replies.status());
  for (const ReplyPtr& reply : *replies) {
    if (reply->type == REDIS_REPLY_ERROR) {
      return Track(ErrorReplyStatus(*reply, config_, "EXPIRE"));
    }
  }
  return Track(ForEachOwnTaskKeyPage(workflow_id, {workflow_id, "expire", ttl}));
}

Status LiveCache::Delete(const std::string& workflow_id) {
  Result<std::vector<ReplyPtr>> replies =
      Run({{"DEL", WorkflowStateKey(workflow_id), WorkflowCheckpointKey(workflow_id)}});
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
