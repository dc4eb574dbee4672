// The pod roles tm-step plays (DESIGN.md §2, §8) and its small utilities. Each
// returns the process exit code (protocol::kExit*). main() only parses flags.
#ifndef TASKMASTER_EXECUTOR_ROLES_H_
#define TASKMASTER_EXECUTOR_ROLES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "taskmaster/env.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step {

// Identity and timings every pod role shares (DESIGN.md §9); flags beat the environment.
struct CommonOptions {
  std::string state_key;
  std::string work_dir = ".";
  int64_t attempt = 0;
  int64_t last_attempt = 0;
  int grace_seconds = 30;
  double ready_timeout_seconds = 300;
  std::optional<double> barrier_timeout_seconds;  // default min(60, grace - 5)
  bool sync_journal = false;                      // local mode: the work dir outlives the process
  std::string argo_deadline;                      // RFC 3339, from ARGO_DEADLINE; empty: none
};

struct RunOptions {
  CommonOptions common;
  int64_t shard = 0;
  bool continue_on_error = false;
  int64_t max_failures = 0;
  double max_failure_percent = 0;  // of the whole list; tolerated: see protocol::ToleratedFailures
  // Failed attempts a task may have before one is final; interrupted attempts
  // (SIGTERM from outside) do not count.
  int64_t task_retries = protocol::kDefaultTaskRetries;
  int64_t quarantine_after = protocol::kDefaultQuarantineAfter;  // 0: never
  double task_timeout_seconds = 0;
  std::vector<std::string> command;  // argv of the user's command
  std::string log_dir;               // local mode: task output to <log_dir>/<ordinal>.log
};

struct InitOptions {
  CommonOptions common;
  // JSON or @path; empty: the list recorded under the state key (tm-sidecar
  // submit), with the batch size recorded with it.
  std::string task_list;
  int64_t batch_size = 1;
  int64_t max_shards = protocol::kDefaultMaxShards;     // 1..kMaxShards
  int64_t parallelism = protocol::kDefaultParallelism;  // 1..kMaxParallelism: lanes
  // Accept a list over protocol::kMaxInlineTaskListBytes (tm-step local: no
  // Argo object carries it).
  bool no_inline_limit = false;
};

struct FinalizeOptions {
  CommonOptions common;
  int64_t max_failures = 0;
  double max_failure_percent = 0;
};

int RunShard(Env* env, const RunOptions& options);
int RunInit(Env* env, const InitOptions& options);
int RunFinalize(Env* env, const FinalizeOptions& options);
int Validate(Env* env, const std::string& task_list);
int CheckpointVerify(Env* env, const std::string& path);
int CheckpointShow(Env* env, const std::string& path);
int Install(Env* env, const std::string& dir);

// Parses --command-json: a JSON array of strings (the argv). InvalidArgument otherwise.
Result<std::vector<std::string>> ParseCommandJson(const std::string& json);

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_ROLES_H_
