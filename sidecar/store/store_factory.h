// Which StateStore to open, from the one string users give (--store, --postgres,
// TM_STORE, TM_POSTGRES_DSN), and the factory that opens it.
//
//   sqlite:PATH                      the SQLite file of local mode
//   postgresql://... | postgres://...  a PostgreSQL DSN (libpq URI syntax)
#ifndef TASKMASTER_SIDECAR_STORE_STORE_FACTORY_H_
#define TASKMASTER_SIDECAR_STORE_STORE_FACTORY_H_

#include <memory>
#include <string>
#include <string_view>

#include "store/postgres_store.h"
#include "store/state_store.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

struct StoreConfig {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string sqlite_path;   // kSqlite
  PostgresOptions postgres;  // kPostgres: the DSN and default timeouts
};

// InvalidArgument with what was expected when spec is neither form, when the
// path is empty, or when libpq cannot parse the DSN (the message never repeats
// a DSN, which may hold a password).
Result<StoreConfig> ParseStoreConfig(std::string_view spec);

// Opens the configured store (SQLite through Env::Default()). Unavailable when
// PostgreSQL cannot be reached.
Result<std::unique_ptr<StateStore>> OpenStore(const StoreConfig& config);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_STORE_FACTORY_H_
