// bench/state_operations: store and cache operations, each beside its baseline
// in the same run. An operation is measured as a rate (items per second) by a
// Measure; a Group holds the baselines and the operations of one server (Redis,
// PostgreSQL, SQLite), and main.cc runs every group's baselines and operations
// alternately for a number of rounds and prints the medians and their ratio.
//
// Not thread-safe; one group is used at a time.
#ifndef TASKMASTER_BENCH_STATE_OPERATIONS_OPERATIONS_H_
#define TASKMASTER_BENCH_STATE_OPERATIONS_OPERATIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "taskmaster/status.h"

namespace taskmaster::bench {

// One measurement: a rate in the unit of its baseline or operation.
using Measure = std::function<Result<double>()>;

struct Baseline {
  std::string name;     // as printed: "redis-benchmark SET -P 16"
  std::string command;  // what runs, for BENCHMARKS.md
  std::string unit;     // "SET/s"
  Measure measure;
};

struct Operation {
  std::string name;              // as printed: "Publish, 500 checkpoints per batch"
  std::string unit;              // "records/s"
  size_t baseline = 0;           // index into the group's baselines
  std::optional<double> target;  // ours / baseline to reach, if the issue set one
  Measure measure;
};

struct Group {
  std::string title;
  std::vector<Baseline> baselines;
  std::vector<Operation> operations;
  // Keeps what the measures share (connections, stores, workflows) alive.
  std::shared_ptr<void> state;
};

// The run's settings, from the command line and the environment.
struct Settings {
  double seconds = 1.5;      // timed per operation per round
  int pg_seconds = 5;        // per pgbench run
  std::string redis_url;     // TM_BENCH_REDIS_URL; empty: no Redis group
  std::string postgres_dsn;  // TM_BENCH_POSTGRES_DSN; empty: no PostgreSQL group
  std::string dir;           // TM_BENCH_DIR: where the SQLite files go
};

// Times `run` after `prepare` (untimed) again and again until `seconds` of
// run time passed; `run` returns how many items it did. Items per second.
Result<double> Rate(double seconds, const std::function<void()>& prepare,
                    const std::function<Result<int64_t>()>& run);

// Runs a shell command and returns its standard output and error; a failure
// (not run, or a non-zero exit) names the command and shows the output.
Result<std::string> RunCommand(const std::string& command);

// The groups (redis_operations.cc, store_operations.cc).
Result<Group> RedisGroup(const Settings& settings);
Result<Group> PostgresGroup(const Settings& settings);
Result<Group> SqliteGroup(const Settings& settings);

}  // namespace taskmaster::bench

#endif  // TASKMASTER_BENCH_STATE_OPERATIONS_OPERATIONS_H_
