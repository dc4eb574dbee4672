// `tm-sidecar expire KEY`: sets the TTL of the workflow's Redis keys (the
// template's onExit runs it once the workflow is over).
#include <iostream>
#include <memory>

#include "commands/commands.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

constexpr int64_t kDefaultTtlSeconds = 7 * 24 * 3600;
constexpr int64_t kMaxTtlSeconds = 365 * 24 * 3600;

struct ExpireFlags {
  std::string key;
  int64_t ttl = kDefaultTtlSeconds;
};

int RunExpire(const StoreFlags& stores, const ExpireFlags& flags) {
  if (Status s = ValidateId(flags.key, "state key"); !s.ok()) return Usage(s);
  auto cache = OpenConfiguredCache(stores);
  if (!cache.ok()) return Usage(cache.status());
  if (!*cache) {
    // The template's onExit runs expire whatever the stores: nothing to do is success.
    std::cout << "no Redis configured: nothing to expire\n";
    return pr::kExitOk;
  }
  Status s = (*cache)->Expire(flags.key, flags.ttl);
  if (!s.ok()) {
    std::cerr << "tm-sidecar: expire: " << s.ToString() << "\n";
    return pr::kExitFailed;
  }
  std::cout << "Redis keys of " << flags.key << " expire in " << flags.ttl << " s\n";
  return pr::kExitOk;
}

}  // namespace

Subcommand AddExpireCommand(CLI::App* app, StoreFlags* stores) {
  auto flags = std::make_shared<ExpireFlags>();
  CLI::App* expire = app->add_subcommand("expire", "Set the TTL of KEY's Redis keys (onExit)");
  AddStoreFlags(expire, stores);
  expire->add_option("key", flags->key, "State key")->required();
  expire->add_option("--ttl", flags->ttl, "Seconds")
      ->envname("TM_TTL")
      ->check(checks::WholeNumber(1, kMaxTtlSeconds))
      ->capture_default_str();
  return {expire, [stores, flags] { return RunExpire(*stores, *flags); }};
}

}  // namespace taskmaster::sidecar
