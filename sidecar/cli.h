// tm-sidecar's command line (DESIGN.md §8) with CLI11: the sidecar's own flags
// and its subcommands (commands/). Every flag also reads its TM_* variable; a
// flag beats the environment; a parse error is exit 2.
#ifndef TASKMASTER_SIDECAR_CLI_H_
#define TASKMASTER_SIDECAR_CLI_H_

#include "taskmaster/env.h"

namespace taskmaster::sidecar {

int Main(Env* env, int argc, char** argv);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_CLI_H_
