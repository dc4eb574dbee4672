// Why a step or a sidecar gave up, in its own words: the errors and warnings
// it logged, read back from its log file through the Env.
#ifndef TASKMASTER_EXECUTOR_LOCAL_LOG_PROBLEMS_H_
#define TASKMASTER_EXECUTOR_LOCAL_LOG_PROBLEMS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "taskmaster/env.h"

namespace taskmaster::step::local {

// The last `max` error and warning messages logged past `offset` of the log at
// path (JSON lines; a line that is not JSON, such as a usage message, counts
// too). Empty when the log cannot be read.
std::vector<std::string> LogProblems(Env* env, const std::string& path, uint64_t offset,
                                     size_t max);

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_LOG_PROBLEMS_H_
