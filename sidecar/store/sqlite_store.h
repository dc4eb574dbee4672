// The SQLite StateStore of local mode (DESIGN.md §4): one file shared by every
// sidecar on the machine, in WAL mode, each write one BEGIN IMMEDIATE
// transaction, with a busy timeout long enough that writers queue instead of
// failing. Tables and columns are those of the PostgreSQL store; times are
// INTEGER Unix milliseconds.
#ifndef TASKMASTER_SIDECAR_STORE_SQLITE_STORE_H_
#define TASKMASTER_SIDECAR_STORE_SQLITE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/state_store.h"
#include "store/store_statement.h"
#include "taskmaster/status.h"

namespace taskmaster {
class Env;
}

namespace taskmaster::sidecar {

// How long a writer waits for another process's write transaction.
inline constexpr int kSqliteBusyTimeoutMillis = 10000;

// Opens (creating it and its directory if needed) the store file at `path`.
// InvalidArgument when the directory is on a network filesystem, whose locks
// SQLite cannot rely on; IOError when the file cannot be opened or put in WAL
// mode. `env` (files and the clock) must outlive the store. The schema is not
// touched: call Migrate() or CheckSchema().
Result<std::unique_ptr<StateStore>> OpenSqliteStore(const std::string& path, Env* env);

// OK unless `dir` is on a network filesystem (NFS, SMB, SMB2, CIFS), whose
// locks SQLite cannot rely on: then InvalidArgument naming the filesystem and
// what to use instead. NotFound or IOError when statfs(2) fails.
Status CheckLocalFilesystem(const std::string& dir);
// The same decision for a statfs(2) f_type already read. FUSE, local disks and
// tmpfs are allowed.
Status CheckFilesystemType(const std::string& dir, int64_t statfs_type);

// Every statement the store runs on its tables (not the migrations' DDL or
// connection settings), for tests of their query plans.
std::vector<StoreStatement> SqliteStatements();

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_SQLITE_STORE_H_
