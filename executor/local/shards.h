// The process fan-out of a local run: the shards init listed, up to
// --parallelism at once, each retried after a failed or interrupted attempt with
// exponential backoff (--backoff * 2^(n-1)) until its last attempt
// (--pod-retries), as the WorkflowTemplate's retryStrategy does; an attempt
// whose only failures are final (exit 4) is not retried. Tallies what the summary reports, and
// draws the progress line. Single-threaded; the pointers must outlive it.
#ifndef TASKMASTER_EXECUTOR_LOCAL_SHARDS_H_
#define TASKMASTER_EXECUTOR_LOCAL_SHARDS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "local.h"
#include "local/console.h"
#include "local/pod.h"
#include "local/pods.h"
#include "taskmaster/env.h"

namespace taskmaster::step::local {

struct Shard {
  int64_t index = 0;
  int64_t tasks = 0;
  int64_t attempts = 0;  // started so far
  int64_t start_at_ns = 0;
  bool finished = false;
  std::unique_ptr<Pod> pod;
  int64_t progress = 0;   // tasks durably done, from the sidecar's progress file
  int64_t baseline = -1;  // the first value seen: done before this run
  int64_t final_failed = 0;
};

class ShardRunner {
 public:
  // shards: the pending ones, in order. total_tasks: the list's; done_before:
  // those of the shards init did not list (all succeeded).
  ShardRunner(Env* env, Console* console, Pods* pods, const LocalOptions& options,
              std::string state_key, int64_t parallelism,
              std::vector<std::unique_ptr<Shard>> shards, int64_t total_tasks, int64_t done_before);

  // Runs every shard to its end. nullopt when they all got there; 130 after a
  // stop signal (no new attempt starts once one came).
  std::optional<int> Run();
  // Shows the progress of the tasks; unless forced, only once shards exist.
  void ShowProgress(bool force);

  // Tasks that had already succeeded before this run.
  int64_t skipped() const { return skipped_; }
  // Task runs repeated after a failed attempt, and the attempts that did so.
  int64_t retried_runs() const { return retried_runs_; }
  int64_t shard_retries() const { return shard_retries_; }

 private:
  // Starts the attempts that are due, as far as parallelism allows; returns
  // when the next one waiting out its backoff is due.
  int64_t StartDue();
  bool AllFinished() const;
  // Tallies a finished attempt and decides: done, or retry after a backoff.
  void OnAttemptEnd(Shard* shard, const Pod& pod);

  Env* const env_;
  Console* const console_;
  Pods* const pods_;
  const LocalOptions& options_;
  const std::string state_key_;
  const int64_t parallelism_;
  std::vector<std::unique_ptr<Shard>> shards_;
  const int64_t total_tasks_;
  const int64_t done_before_;
  int64_t started_ns_ = 0;
  int64_t skipped_;
  int64_t retried_runs_ = 0;
  int64_t shard_retries_ = 0;
};

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_SHARDS_H_
