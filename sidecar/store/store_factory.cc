#include "store/store_factory.h"

#include "store/sqlite_store.h"
#include "taskmaster/env.h"

namespace taskmaster::sidecar {

Result<std::unique_ptr<StateStore>> OpenStore(const StoreConfig& config) {
  switch (config.kind) {
    case StoreConfig::Kind::kSqlite:
      return OpenSqliteStore(config.sqlite_path, Env::Default());
    case StoreConfig::Kind::kPostgres:
      return OpenPostgresStore(config.postgres);
  }
  return Status::InvalidArgument("unknown store kind");
}

}  // namespace taskmaster::sidecar
