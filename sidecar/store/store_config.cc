// ParseStoreConfig (store_factory.h), apart from the factory that opens both
// stores, so that what parses a store spec builds alone (fuzz/store_url).
#include <string>
#include <string_view>

#include "store/postgres_dsn.h"
#include "store/store_factory.h"

namespace taskmaster::sidecar {

namespace {
constexpr std::string_view kSqlitePrefix = "sqlite:";
}  // namespace

Result<StoreConfig> ParseStoreConfig(std::string_view spec) {
  StoreConfig config;
  if (spec.rfind(kSqlitePrefix, 0) == 0) {
    config.kind = StoreConfig::Kind::kSqlite;
    config.sqlite_path = std::string(spec.substr(kSqlitePrefix.size()));
    if (config.sqlite_path.empty()) {
      return Status::InvalidArgument("store 'sqlite:' names no file: give sqlite:PATH");
    }
    return config;
  }
  if (spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0) {
    config.kind = StoreConfig::Kind::kPostgres;
    config.postgres.dsn = std::string(spec);
    TM_RETURN_IF_ERROR(ValidatePostgresDsn(config.postgres.dsn));
    return config;
  }
  // Only the scheme is quoted: the rest may be a mistyped DSN with a password.
  const std::string_view scheme = spec.substr(0, spec.find(':'));
  return Status::InvalidArgument("unknown store '" + std::string(scheme) +
                                 (scheme.size() < spec.size() ? ":...'" : "'") +
                                 ": expected sqlite:PATH or a PostgreSQL DSN starting with "
                                 "postgresql:// or postgres://");
}

}  // namespace taskmaster::sidecar
