// Runs `tm-sidecar ARGS...` in-process through Main with stdout and stderr
// captured (neither is a terminal), for the subcommand tests. Not thread-safe:
// it swaps std::cout's and std::cerr's buffers while Main runs.
#ifndef TASKMASTER_TESTS_SIDECAR_COMMANDS_RUN_MAIN_H_
#define TASKMASTER_TESTS_SIDECAR_COMMANDS_RUN_MAIN_H_

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "taskmaster/env.h"

namespace taskmaster::sidecar {

struct MainRun {
  int code = 0;
  std::string out;
  std::string err;
};

inline MainRun RunMain(std::vector<std::string> args) {
  args.insert(args.begin(), "tm-sidecar");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  std::streambuf* old_out = std::cout.rdbuf(out.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(err.rdbuf());
  MainRun run;
  run.code = Main(Env::Default(), static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_TESTS_SIDECAR_COMMANDS_RUN_MAIN_H_
