// `tm-sidecar rebuild-cache KEY`: writes the workflow's Redis keys again from
// the store (DESIGN.md §4: the store is the truth, Redis a copy).
#include <iostream>
#include <memory>

#include "cache_refill.h"
#include "commands/commands.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

int RunRebuildCache(Env* env, const StoreFlags& stores, const std::string& key) {
  int exit_code = pr::kExitOk;
  auto workflow = LoadStoredWorkflow(stores, key, &exit_code);
  if (!workflow) return exit_code;
  auto cache = OpenConfiguredCache(stores);
  if (!cache.ok()) return Usage(cache.status());
  if (!*cache) return Usage(Status::InvalidArgument("rebuild-cache needs --redis URL"));
  auto refilled = RefillCacheFromStore(workflow->store.get(), cache->get(), workflow->state, 0, 0,
                                       env->NowUnixMillis());
  if (!refilled.ok()) {
    std::cerr << "tm-sidecar: rebuild-cache: " << refilled.status().ToString() << "\n";
    return pr::kExitFailed;
  }
  std::cout << "rebuilt the Redis keys of " << key << " (" << *refilled << " task checkpoints)\n";
  return pr::kExitOk;
}

}  // namespace

Subcommand AddRebuildCacheCommand(CLI::App* app, Env* env, StoreFlags* stores) {
  auto key = std::make_shared<std::string>();
  CLI::App* rebuild = app->add_subcommand("rebuild-cache", "Refill Redis for KEY from the store");
  AddStoreFlags(rebuild, stores);
  rebuild->add_option("key", *key, "State key")->required();
  return {rebuild, [env, stores, key] { return RunRebuildCache(env, *stores, *key); }};
}

}  // namespace taskmaster::sidecar
