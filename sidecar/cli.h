// tm-sidecar's command line (DESIGN.md §8) with CLI11: the sidecar's own flags
// and its subcommands (commands/). Every flag also reads its TM_* variable; a
// flag beats the environment; a parse error is exit 2.
// Shaped like executor/cli.h on purpose: each program has one such entry point.
#ifndef TASKMASTER_SIDECAR_CLI_H_
#define TASKMASTER_SIDECAR_CLI_H_

#include "taskmaster/env.h"

namespace taskmaster::sidecar {

// tm-sidecar's whole run from its argv and TM_* variables: the sidecar of a
// step, or the first subcommand given, on `env` (borrowed: Env::Default() in
// main). Returns the process's exit code (protocol.h kExit*; kExitUsage for a
// bad command line).
int Main(Env* env, int argc, char** argv);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_CLI_H_
