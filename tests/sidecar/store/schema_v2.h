// A database as tm-sidecar left it before schema versions 3 and 4: the tables of
// versions 1 and 2 exactly as those migrations made them, in each dialect, and
// one workflow's rows in them (SQLite's times as Unix milliseconds). The
// migration tests load it and upgrade it.
#ifndef TASKMASTER_TESTS_SIDECAR_STORE_SCHEMA_V2_H_
#define TASKMASTER_TESTS_SIDECAR_STORE_SCHEMA_V2_H_

#include <string>
#include <vector>

namespace taskmaster::sidecar::conformance {

// The rows' times: 2026-01-01T00:00:00.123Z and 1.333 s later.
inline constexpr int64_t kV2CreatedMs = 1767225600123;
inline constexpr int64_t kV2FinishedMs = 1767225601456;

inline std::vector<std::string> SchemaV2Statements(bool postgres) {
  const std::string integer = postgres ? "bigint" : "INTEGER";
  const std::string time = postgres ? "timestamptz" : "INTEGER";
  const std::string boolean = postgres ? "boolean" : "INTEGER";
  const std::string yes = postgres ? "true" : "1";
  const std::string no = postgres ? "false" : "0";
  const auto at = [&](int64_t ms) {
    return postgres ? "timestamptz 'epoch' + " + std::to_string(ms) + " * interval '1 millisecond'"
                    : std::to_string(ms);
  };
  return {
      "CREATE TABLE schema_migrations (version " + integer + " PRIMARY KEY, name text NOT NULL, " +
          "applied_at " + time + " NOT NULL" + (postgres ? " DEFAULT now())" : ")"),
      "INSERT INTO schema_migrations VALUES (1, 'workflow, task, checkpoint and fence tables', " +
          at(kV2CreatedMs) + "), (2, 'per-shard task counts', " + at(kV2CreatedMs) + ")",
      "CREATE TABLE workflow_states (workflow_id text PRIMARY KEY, status text NOT NULL CHECK "
      "(status IN ('pending', 'running', 'succeeded', 'failed')), total " +
          integer + " NOT NULL DEFAULT 0, succeeded " + integer + " NOT NULL DEFAULT 0, failed " +
          integer + " NOT NULL DEFAULT 0, running " + integer + " NOT NULL DEFAULT 0, pending " +
          integer + " NOT NULL DEFAULT 0, cancelled " + integer +
          " NOT NULL DEFAULT 0, task_count " + integer + " NOT NULL, batch_size " + integer +
          " NOT NULL, effective_batch_size " + integer +
          " NOT NULL, list_hash text NOT NULL, created_at " + time + " NOT NULL, updated_at " +
          time + " NOT NULL, finished_at " + time + ", version " + integer + " NOT NULL DEFAULT 0)",
      "CREATE INDEX workflow_states_updated_at ON workflow_states (updated_at)",
      "CREATE INDEX workflow_states_finished_at ON workflow_states (finished_at) "
      "WHERE finished_at IS NOT NULL",
      "CREATE TABLE task_states (workflow_id text NOT NULL REFERENCES workflow_states ON DELETE "
      "CASCADE, ordinal " +
          integer +
          " NOT NULL, task_id text NOT NULL, status text NOT NULL CHECK (status IN ('pending', "
          "'running', 'succeeded', 'failed', 'interrupted', 'cancelled')), final " +
          boolean + " NOT NULL DEFAULT " + no + ", exit_code integer, error text NOT NULL " +
          "DEFAULT '', attempts " + integer + " NOT NULL DEFAULT 0, started_at " + time +
          ", finished_at " + time + ", duration_ms " + integer + ", generation " + integer +
          " NOT NULL DEFAULT 0, progress_done " + integer + ", progress_total " + integer +
          ", note text, PRIMARY KEY (workflow_id, ordinal), UNIQUE (workflow_id, task_id))",
      "CREATE INDEX task_states_final_failures ON task_states (workflow_id, ordinal) WHERE "
      "status = 'failed' AND final" +
          std::string(postgres ? "" : " = 1"),
      "CREATE TABLE checkpoints (workflow_id text NOT NULL, task_id text NOT NULL, generation " +
          integer + " NOT NULL, document text NOT NULL, backup_generation " + integer +
          " NOT NULL DEFAULT 0, backup_document text, updated_at " + time +
          " NOT NULL, PRIMARY KEY (workflow_id, task_id), FOREIGN KEY (workflow_id, task_id) "
          "REFERENCES task_states (workflow_id, task_id) ON DELETE CASCADE)",
      "CREATE TABLE fences (workflow_id text NOT NULL, role text NOT NULL CHECK (role IN "
      "('init', 'shard', 'finalize')), shard " +
          integer + " NOT NULL, fence " + integer + " NOT NULL, seq " + integer +
          " NOT NULL, PRIMARY KEY (workflow_id, role, shard))",
      "CREATE TABLE shard_counts (workflow_id text NOT NULL REFERENCES workflow_states ON "
      "DELETE CASCADE, shard " +
          integer + " NOT NULL, status text NOT NULL, final " + boolean + " NOT NULL, tasks " +
          integer + " NOT NULL, started " + boolean +
          " NOT NULL, PRIMARY KEY (workflow_id, shard, status, final))",
      // A workflow of three tasks in shards of two: one succeeded, one failed
      // for good, one pending.
      "INSERT INTO workflow_states VALUES ('wf-v2', 'running', 3, 1, 1, 0, 1, 0, 3, 2, 2, "
      "'xxh3:0000000000000000', " +
          at(kV2CreatedMs) + ", " + at(kV2FinishedMs) + ", NULL, 4)",
      "INSERT INTO task_states VALUES ('wf-v2', 0, 'a', 'succeeded', " + no + ", 0, '', 1, " +
          at(kV2CreatedMs) + ", " + at(kV2FinishedMs) + ", 1333, 1, NULL, NULL, NULL), " +
          "('wf-v2', 1, 'b', 'failed', " + yes + ", 3, 'exit code 3', 3, " + at(kV2CreatedMs) +
          ", " + at(kV2FinishedMs) + ", 1333, 0, NULL, NULL, NULL), " +
          "('wf-v2', 2, 'c', 'pending', " + no + ", NULL, '', 0, NULL, NULL, NULL, 0, NULL, " +
          "NULL, NULL)",
      "INSERT INTO checkpoints VALUES ('wf-v2', 'a', 1, '{}', 0, NULL, " + at(kV2FinishedMs) + ")",
      "INSERT INTO fences VALUES ('wf-v2', 'init', 0, 1, 4), ('wf-v2', 'shard', 0, 1, 6)",
      "INSERT INTO shard_counts VALUES ('wf-v2', 0, 'succeeded', " + no + ", 1, " + yes +
          "), ('wf-v2', 0, 'failed', " + yes + ", 1, " + yes + "), ('wf-v2', 1, 'pending', " + no +
          ", 1, " + no + ")",
  };
}

}  // namespace taskmaster::sidecar::conformance

#endif  // TASKMASTER_TESTS_SIDECAR_STORE_SCHEMA_V2_H_
