// tm-step's command line (DESIGN.md §8) with CLI11: parses argv into the option
// structs of roles.h and dispatches. Any parse error is exit 2 with a usage line.
#ifndef TASKMASTER_EXECUTOR_CLI_H_
#define TASKMASTER_EXECUTOR_CLI_H_

#include "taskmaster/env.h"

namespace taskmaster::step {

int Main(Env* env, int argc, char** argv);

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_CLI_H_
