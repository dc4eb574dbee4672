// The PostgreSQL DSN check, apart from the store that connects with it, so that
// what parses a DSN builds alone (fuzz/store_url links this, not the store).
#ifndef TASKMASTER_SIDECAR_STORE_POSTGRES_DSN_H_
#define TASKMASTER_SIDECAR_STORE_POSTGRES_DSN_H_

#include <string>

#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// OK when dsn is a postgresql:// or postgres:// URI that libpq parses;
// InvalidArgument otherwise. The message never quotes the DSN, which may hold a
// password.
Status ValidatePostgresDsn(const std::string& dsn);

// libpq's message without the newline (and spaces) it ends in; "" for nullptr.
std::string TrimLibpqMessage(const char* message);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_POSTGRES_DSN_H_
