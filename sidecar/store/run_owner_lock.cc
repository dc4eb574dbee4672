#include "store/run_owner_lock.h"

#include <libpq-fe.h>

#include <string_view>

#include "store/postgres_dsn.h"

namespace taskmaster::sidecar {
namespace {

// A prefix of our own, so the lock shares no number with other advisory
// locks by chance of an equal text (the migrations' lock is a constant).
constexpr std::string_view kLockQuery =
    "SELECT pg_try_advisory_lock(hashtextextended('taskmaster-local-run:' || $1, 0))";

}  // namespace

RunOwnerLock::RunOwnerLock(PostgresOptions options) : options_(std::move(options)) {}

RunOwnerLock::~RunOwnerLock() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Status RunOwnerLock::Connect() {
  if (conn_ != nullptr) PQfinish(conn_);
  held_.clear();
  const std::string connect_timeout = std::to_string(options_.connect_timeout_seconds);
  // As the store connects (postgres_store.cc): what the DSN sets wins.
  const char* const keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* const values[] = {connect_timeout.c_str(), "tm-sidecar run owner",
                                options_.dsn.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return Status::OK();
  const std::string why =
      conn_ == nullptr ? "out of memory" : TrimLibpqMessage(PQerrorMessage(conn_));
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  return Status::Unavailable("cannot connect to PostgreSQL to claim the state key: " + why);
}

Result<bool> RunOwnerLock::TryLock(const std::string& state_key) {
  const char* params[] = {state_key.c_str()};
  PGresult* r =
      PQexecParams(conn_, std::string(kLockQuery).c_str(), 1, nullptr, params, nullptr, nullptr, 0);
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
  const bool locked = ok && std::string_view(PQgetvalue(r, 0, 0)) == "t";
  const std::string error = ok ? "" : TrimLibpqMessage(PQresultErrorMessage(r));
  PQclear(r);
  if (!ok) return Status::Unavailable("cannot claim the state key in PostgreSQL: " + error);
  return locked;
}

Status RunOwnerLock::Claim(const std::string& state_key) {
  // A session that broke lost its locks with it: connect again and retake them.
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) TM_RETURN_IF_ERROR(Connect());
  if (held_.count(state_key) > 0) {
    // Still held while the session lives: a cheap round trip proves it does.
    PGresult* r = PQexec(conn_, "SELECT 1");
    const bool alive = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (alive) return Status::OK();
    TM_RETURN_IF_ERROR(Connect());
  }
  auto locked = TryLock(state_key);
  if (!locked.ok()) return locked.status();
  if (!*locked) {
    return Status::Fenced("state key " + state_key +
                          " is in use by another tm-step local run on this PostgreSQL (another "
                          "state dir or machine); wait for it to end, or give another --state-key");
  }
  held_.insert(state_key);
  return Status::OK();
}

}  // namespace taskmaster::sidecar
