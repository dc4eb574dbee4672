// The schema version check both stores make: a sidecar refuses a database whose
// schema is older (run `tm-sidecar migrate`) or newer (upgrade tm-sidecar) than
// the one it was built for, naming both versions.
#ifndef TASKMASTER_SIDECAR_STORE_SCHEMA_VERSION_H_
#define TASKMASTER_SIDECAR_STORE_SCHEMA_VERSION_H_

#include <cstdint>

#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// OK when found == wanted, else InvalidArgument naming both (0: not migrated).
Status CompareSchemaVersion(int64_t found, int64_t wanted);

// InvalidArgument when the database is newer than this build: Migrate() refuses
// to touch a schema it does not know.
Status CheckNotNewer(int64_t found, int64_t wanted);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_SCHEMA_VERSION_H_
