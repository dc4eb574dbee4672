// tm-sidecar's command line (DESIGN.md §8) with CLI11. Every flag also reads
// its TM_* variable; a flag beats the environment; a parse error is exit 2.
#ifndef TASKMASTER_SIDECAR_CLI_H_
#define TASKMASTER_SIDECAR_CLI_H_

#include <cstdint>
#include <string>

#include "taskmaster/env.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

int Main(Env* env, int argc, char** argv);

// "90s", "30m", "24h", "7d" (or plain seconds) to seconds; InvalidArgument otherwise.
Result<int64_t> ParseDurationSeconds(const std::string& text);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_CLI_H_
