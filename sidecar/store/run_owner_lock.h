// RunOwnerLock: a `tm-step local` run's claim on its state key in PostgreSQL, so
// that two runs with different state dirs on one key never share a workflow
// (README "Local mode"). Each state dir is locked already (flock); a SQLite
// store lives in its state dir, so only PostgreSQL needs this.
//
// The claim is a session-level advisory lock, pg_try_advisory_lock of the
// key's hashtextextended, on a connection of its own that the run's one
// tm-sidecar (pod_server.h) keeps until it exits: the server releases it when
// that session ends, so a run killed with -9 leaves nothing to clean up.
//
// Claim is called before every pod the run starts. A connection found broken
// (PostgreSQL restarted, and the lock with it) is made again and the lock taken
// anew, or refused if another run took it meanwhile: a run can lose its claim
// during an outage, and then its next pod is refused.
//
// Not thread-safe: one thread at a time (the pod server's loop).
#ifndef TASKMASTER_SIDECAR_STORE_RUN_OWNER_LOCK_H_
#define TASKMASTER_SIDECAR_STORE_RUN_OWNER_LOCK_H_

#include <memory>
#include <set>
#include <string>

#include "store/postgres_store.h"
#include "taskmaster/status.h"

struct pg_conn;

namespace taskmaster::sidecar {

class RunOwnerLock {
 public:
  // Does not connect: the first Claim does.
  explicit RunOwnerLock(PostgresOptions options);
  ~RunOwnerLock();
  RunOwnerLock(const RunOwnerLock&) = delete;
  RunOwnerLock& operator=(const RunOwnerLock&) = delete;

  // OK when this object holds the key's lock (taken now or before). Fenced,
  // naming the key, when another session holds it; Unavailable when
  // PostgreSQL cannot be reached.
  Status Claim(const std::string& state_key);

 private:
  Status Connect();
  // One pg_try_advisory_lock on the current connection.
  Result<bool> TryLock(const std::string& state_key);

  PostgresOptions options_;
  pg_conn* conn_ = nullptr;
  std::set<std::string> held_;  // keys locked on conn_
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_RUN_OWNER_LOCK_H_
