// tm-step's command line (DESIGN.md §8) with CLI11: parses argv into the option
// structs of roles.h and dispatches. Any parse error is exit 2 with a usage line.
// Shaped like sidecar/cli.h on purpose: each program has one such entry point.
#ifndef TASKMASTER_EXECUTOR_CLI_H_
#define TASKMASTER_EXECUTOR_CLI_H_

#include "taskmaster/env.h"

namespace taskmaster::step {

// tm-step's whole run from its argv: the role or command it names, on `env`
// (borrowed: Env::Default() in main). Returns the process's exit code
// (protocol.h kExit*; kExitUsage for a bad command line).
int Main(Env* env, int argc, char** argv);

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_CLI_H_
