// What must hold after a chaos run has finished, read from the stores
// themselves (psql, redis-cli) and from the example task's audit logs
// (local/example_check.h). Each check returns the problems it found, one line
// each, empty when the invariant holds.
#ifndef TASKMASTER_TESTS_CHAOS_INVARIANTS_H_
#define TASKMASTER_TESTS_CHAOS_INVARIANTS_H_

#include <string>
#include <vector>

namespace taskmaster::chaos_test {

struct Stores {
  std::string postgres_dsn;
  std::string redis_url;
  std::string key;  // the workflow's state key
  int tasks = 0;
};

// The workflow succeeded with every task counted once: workflow_states says
// total = succeeded = tasks; every task_states row is succeeded; every task has
// exactly one attempt whose outcome is succeeded in task_attempts.
std::vector<std::string> CheckSucceededOnce(const Stores& stores);

// Each task's checkpoint in PostgreSQL is its last one: the example saves one
// when its last record is done, so payload.next is `records`, at or past every
// checkpoint the task saw acknowledged (the highest "acked N" of its audit log
// is named in the problem). A task killed while it waited for an ack may find
// that checkpoint committed all the same: its next attempt resumes there.
std::vector<std::string> CheckLastCheckpoints(const Stores& stores, const std::string& data_dir,
                                              int records);

// Redis holds what PostgreSQL holds: workflow:state:KEY field by field as
// `tm-sidecar status` reads it, and every checkpoint:task:KEY:ID byte for byte.
std::vector<std::string> CheckRedisEqualsPostgres(const Stores& stores, const std::string& sidecar);

}  // namespace taskmaster::chaos_test

#endif  // TASKMASTER_TESTS_CHAOS_INVARIANTS_H_
