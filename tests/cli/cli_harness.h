// Runs the real tm-step and tm-sidecar for the command-line suites: each run
// in a fresh scratch dir its flags may name, with stdout and stderr captured
// apart from it, so that a test can tell whether a refused command wrote
// anything at all.
#ifndef TASKMASTER_TESTS_CLI_CLI_HARNESS_H_
#define TASKMASTER_TESTS_CLI_CLI_HARNESS_H_

#include <string>
#include <vector>

#include "support/child_process.h"

namespace taskmaster::cli_test {

using test_support::EnvVars;

inline constexpr const char* kStep = TM_STEP_BINARY;
inline constexpr const char* kSidecar = TM_SIDECAR_BINARY;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> written;  // what the scratch dir holds afterwards
};

// Runs `binary` with `args` and `env`, "{T}" in either replaced by a fresh
// empty scratch dir (removed afterwards); fails the test case when it takes
// over 20 s.
RunResult RunIn(const std::string& binary, std::vector<std::string> args, EnvVars env = {});

bool Contains(const std::string& text, const std::string& part);

}  // namespace taskmaster::cli_test

#endif  // TASKMASTER_TESTS_CLI_CLI_HARNESS_H_
