// What a local run prints when it ends, on stdout: the summary of a finished
// workflow (counts, failed tasks with their logs, where the state is and how
// to query it), or, after a stop signal, how to resume. Without a terminal
// the gist also goes to the log.
#ifndef TASKMASTER_EXECUTOR_LOCAL_REPORT_H_
#define TASKMASTER_EXECUTOR_LOCAL_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "local.h"
#include "local/console.h"
#include "local/pod.h"

namespace taskmaster::step::local {

// What the summary is made of. The pointers must outlive PrintSummary.
struct RunReport {
  std::string state_key;
  bool succeeded = false;
  double wall_seconds = 0;
  const Pod* finalize = nullptr;  // its outputs and restore summary
  int64_t skipped = 0;            // tasks done before this run
  int64_t retried_runs = 0;
  int64_t shard_retries = 0;
  int64_t batch_size = 1;
  // The run's copy of the list, read again for the ordinals (and so the logs)
  // of the failed tasks the summary names: the IDs are not kept in memory.
  Env* env = nullptr;
  std::string task_list_file;
  std::string state_dir;
  std::string logs_dir;
  std::string sidecar_program;
  const LocalOptions* options = nullptr;  // --max-failures and the store flags
};

void PrintSummary(Console* console, const RunReport& report);

// "Stopped", and the command (our own argv, quoted) to resume with.
void PrintResume(Console* console, const std::string& state_dir, const std::string& state_key,
                 const std::vector<std::string>& invocation);

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_REPORT_H_
