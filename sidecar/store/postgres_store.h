// The PostgreSQL StateStore, the source of truth in a cluster (DESIGN.md §4).
//
// Every call is one transaction on one connection. Nothing outlives a
// transaction (no session settings, locks or prepared statements), so the store
// works behind PgBouncer in transaction mode: timeouts are set per transaction
// with set_config(..., true), migrations take pg_advisory_xact_lock, and every
// statement is an unnamed extended-protocol statement with its values as
// parameters (batches travel as one JSON parameter per record kind, unpacked by
// json_to_recordset).
//
// Round trips are what a call costs when one sidecar serves many pods over one
// connection, so a transaction's statements go in libpq's pipeline mode,
// several per round trip: BEGIN and the timeouts travel with the first
// statement, and statements whose results decide nothing until later are sent
// together (a fence bump is one round trip, a shard's restore two, a batch six
// at most). A result that can refuse a write is checked before COMMIT is sent.
//
// A transport failure (the connection is lost or the server shuts down) is
// Unavailable, and the next call connects again. A server error is not:
// a lock or serialization conflict is Busy, a statement timeout is Timeout, a
// refused value or a missing table is InvalidArgument, anything else IOError.
#ifndef TASKMASTER_SIDECAR_STORE_POSTGRES_STORE_H_
#define TASKMASTER_SIDECAR_STORE_POSTGRES_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "store/postgres_dsn.h"
#include "store/state_store.h"
#include "store/store_statement.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

struct PostgresOptions {
  std::string dsn;  // postgresql://user:password@host:port/dbname?param=value
  // Defaults for what the DSN does not set itself (its own connect_timeout wins).
  int connect_timeout_seconds = 10;
  int statement_timeout_ms = 30000;
  // A writer that waits longer for a row lock gives up with Busy and retries,
  // instead of queueing behind a stalled transaction.
  int lock_timeout_ms = 2000;
  // The server ends a session left idle inside a transaction this long (a
  // client that stalled mid-batch), releasing its locks.
  int idle_in_transaction_timeout_ms = 10000;
};

// Validates the DSN and connects. Unavailable when the server cannot be reached
// (or refuses the login). The schema is not touched: call Migrate() or
// CheckSchema().
Result<std::unique_ptr<StateStore>> OpenPostgresStore(const PostgresOptions& options);

// Every statement the store runs on its tables (not the migrations' DDL or
// connection settings), for tests of their query plans.
std::vector<StoreStatement> PostgresStatements();

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_POSTGRES_STORE_H_
