// `tm-sidecar migrate`: creates or upgrades the store's schema.
#include <iostream>

#include "commands/commands.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

int RunMigrate(const StoreFlags& stores) {
  auto store = OpenConfiguredStore(stores);
  if (!store.ok()) return Usage(store.status());
  Status s = (*store)->Migrate();
  if (!s.ok()) {
    std::cerr << "tm-sidecar: migrate: " << s.ToString() << "\n";
    return s.IsInvalidArgument() ? pr::kExitUsage : pr::kExitFailed;
  }
  std::cout << "schema is current\n";
  return pr::kExitOk;
}

}  // namespace

Subcommand AddMigrateCommand(CLI::App* app, StoreFlags* stores) {
  CLI::App* migrate = app->add_subcommand("migrate", "Create or upgrade the store's schema");
  AddStoreFlags(migrate, stores);
  return {migrate, [stores] { return RunMigrate(*stores); }};
}

}  // namespace taskmaster::sidecar
