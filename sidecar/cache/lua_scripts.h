// The Lua that LiveCache runs in Redis (live_cache.h says why). Each script's
// KEYS and ARGV, and why what it writes never moves a key backwards, are in
// lua_scripts.cc beside its text.
#ifndef TASKMASTER_SIDECAR_CACHE_LUA_SCRIPTS_H_
#define TASKMASTER_SIDECAR_CACHE_LUA_SCRIPTS_H_

#include <string>
#include <string_view>

namespace taskmaster::sidecar {

// One call of a compared publish: checkpoints and the state each written only
// if newer, and the writing shard's guard claimed unless a newer fence holds it.
std::string_view PublishLua();
// Before the documents of a whole publish: bumps the writers' epoch and raises
// each shard's guard to the fence the store knows.
std::string_view BeginWholeLua();
// Expires or deletes the task checkpoint keys that SCAN found and that belong
// to the workflow.
const std::string& OwnTaskKeysLua();

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_CACHE_LUA_SCRIPTS_H_
