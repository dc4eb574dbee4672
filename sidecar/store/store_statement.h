// A statement a store runs against its tables, named, so that tests can check
// its query plan (tests/sidecar/store/*_plan_test.cc) against the very SQL the
// store sends. The text is a constant of the store with static storage.
#ifndef TASKMASTER_SIDECAR_STORE_STORE_STATEMENT_H_
#define TASKMASTER_SIDECAR_STORE_STORE_STATEMENT_H_

#include <vector>

namespace taskmaster::sidecar {

struct StoreStatement {
  const char* name;  // the constant's name without its k, e.g. "ReadShardTasks"
  const char* sql;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_STORE_STORE_STATEMENT_H_
