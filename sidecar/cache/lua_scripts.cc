#include "cache/lua_scripts.h"

#include <string>

namespace taskmaster::sidecar {
namespace {

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

// One call of a publish that compares each key: Publish (a whole workflow) and
// PublishChanges when it cannot take the guarded path. KEYS[1] is the
// workflow's writers hash; when ARGV[3] (the writing shard's guard value,
// "<fence> <seq>") is not empty, KEYS[2] is that shard's guard key and the
// checkpoint keys start at KEYS[3], else at KEYS[2]; after the n checkpoint
// keys, optionally the state key. ARGV[1] is n; ARGV[2] is "whole" or
// "changes" (writes nothing and returns -1 when Redis does not hold the
// workflow's writers hash); ARGV[4] the shard number. Checkpoint i (from 0)
// has its document ARGV[5 + 2i] and generation ARGV[6 + 2i]; the state key
// gets the state JSON ARGV[5 + 2n] when its version ARGV[6 + 2n] is greater
// than the stored one.
//
// Each key is compared on its own, so no key ever moves backwards whatever the
// others do. A stored checkpoint's generation is read from its head without
// cjson: the document starts `{"format":` and its first `,"generation":` is
// the envelope's, because the fields before it are integers and strings, and
// inside a JSON string a quote after `n` would have to be escaped. A stored
// value that does not look like that is overwritten. The state (one per call)
// is decoded with cjson.
//
// The shard's guard is claimed (set to ARGV[3], and the shard listed in the
// writers hash) unless it holds a greater fence: a stale writer must not take
// it back. SET and MSET drop a TTL on purpose, and so does the writers hash
// when anything is written: a workflow written again is live again, and Expire
// runs once it has finished.
//
// Returns {written, 1 if the guard was claimed else 0}.
constexpr std::string_view kPublishLua = R"lua(
local HEAD_LAST_BYTE = 4095
local function stored_generation(key)
  local head = redis.call('GETRANGE', key, 0, HEAD_LAST_BYTE)
  if string.sub(head, 1, 10) ~= '{"format":' then return nil end
  local at = string.find(head, ',"generation":', 11, true)
  if not at then return nil end
  return tonumber(string.match(head, '^(%d+),"created_at":"', at + 14))
end
local writers = KEYS[1]
local n = tonumber(ARGV[1])
local guard_value = ARGV[3]
local first = 2
if guard_value ~= '' then first = 3 end
if ARGV[2] == 'changes' and redis.call('EXISTS', writers) == 0 then return {-1, 0} end
local writes = {}
for i = 0, n - 1 do
  local key = KEYS[first + i]
  local stored = stored_generation(key)
  if not (stored and stored >= tonumber(ARGV[6 + 2 * i])) then
    writes[#writes + 1] = key
    writes[#writes + 1] = ARGV[5 + 2 * i]
  end
end
local written = #writes / 2
if written > 0 then redis.call('MSET', unpack(writes)) end
if #KEYS >= first + n then
  local key = KEYS[first + n]
  local stored = redis.call('GET', key)
  local newer = true
  if stored then
    local ok, doc = pcall(cjson.decode, stored)
    if ok and type(doc) == 'table' and type(doc.version) == 'number'
        and doc.version >= tonumber(ARGV[6 + 2 * n]) then
      newer = false
    end
  end
  if newer then
    redis.call('SET', key, ARGV[5 + 2 * n])
    written = written + 1
  end
end
if written > 0 then redis.call('PERSIST', writers) end
local claimed = 0
if guard_value ~= '' then
  local held = redis.call('GET', KEYS[2])
  local held_fence = held and tonumber(string.match(held, '^(%d+) '))
  if not (held_fence and held_fence > tonumber(string.match(guard_value, '^(%d+) '))) then
    redis.call('SET', KEYS[2], guard_value)
    redis.call('HSETNX', writers, ARGV[4], '1')
    claimed = 1
  end
end
return {written, claimed}
)lua";

// Sent before the documents of a whole publish. Bumps the epoch of KEYS[1],
// the writers hash (creating it), which ends every guarded write in flight:
// they all WATCH it. KEYS[1 + i] is the guard of shard ARGV[2i - 1], whose
// writer holds fence ARGV[2i] in the store: a guard that holds a lower fence
// (or none) is raised to "<fence> 0", so that no older writer of the shard
// claims it again, even if the current one never published. "0" is no seq a
// writer publishes, so the value also differs from what the shard's writer
// last wrote.
constexpr std::string_view kBeginWholeLua = R"lua(
redis.call('HINCRBY', KEYS[1], 'epoch', 1)
for i = 2, #KEYS do
  local fence = ARGV[2 * i - 2]
  local held = redis.call('GET', KEYS[i])
  local held_fence = held and tonumber(string.match(held, '^(%d+) '))
  if not (held_fence and held_fence >= tonumber(fence)) then
    redis.call('SET', KEYS[i], fence .. ' 0')
    redis.call('HSETNX', KEYS[1], ARGV[2 * i - 3], '1')
  end
end
return 0
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

}  // namespace

std::string_view PublishLua() {
  return kPublishLua;
}

std::string_view BeginWholeLua() {
  return kBeginWholeLua;
}

const std::string& OwnTaskKeysLua() {
  static const std::string source = std::string(kEnvelopeLua) + std::string(kOwnTaskKeysLua);
  return source;
}

}  // namespace taskmaster::sidecar
