#include "store/schema_version.h"

#include <string>

namespace taskmaster::sidecar {

Status CheckNotNewer(int64_t found, int64_t wanted) {
  if (found <= wanted) return Status::OK();
  return Status::InvalidArgument("the database schema is at version " + std::to_string(found) +
                                 ", newer than version " + std::to_string(wanted) +
                                 " of this tm-sidecar: upgrade tm-sidecar");
}

Status CompareSchemaVersion(int64_t found, int64_t wanted) {
  TM_RETURN_IF_ERROR(CheckNotNewer(found, wanted));
  if (found == wanted) return Status::OK();
  const std::string at =
      found == 0 ? "has no schema (version 0)" : "schema is at version " + std::to_string(found);
  return Status::InvalidArgument("the database " + at + ", older than version " +
                                 std::to_string(wanted) +
                                 " of this tm-sidecar: run `tm-sidecar migrate`");
}

}  // namespace taskmaster::sidecar
