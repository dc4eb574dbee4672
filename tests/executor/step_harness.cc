#include "step_harness.h"

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <optional>
#include <string>

namespace taskmaster::step_test {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

bool WaitForFile(const std::string& path, milliseconds timeout) {
  return WaitUntil([&] { return FileExists(path); }, timeout);
}

bool ProcessIsDead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  // "pid (comm) S ...": the state follows the last ')' (comm may hold one).
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || line.size() < paren + 3 || line[paren + 2] == 'Z' ||
         line[paren + 2] == 'X';
}

StepProcess::StepProcess(const std::vector<std::string>& args, const EnvVars& env,
                         const std::string& capture_dir)
    : ChildProcess(kStepBinary, args, env, capture_dir + "/tm-step") {}

StepResult RunShell(const std::string& command_line) {
  test_support::ShellResult shell = test_support::RunShell(command_line);
  return StepResult{shell.exit_code, std::move(shell.out), ""};
}

StepResult RunStep(const std::vector<std::string>& args, const EnvVars& env, milliseconds timeout) {
  TempDir capture;
  StepProcess step(args, env, capture.path());
  std::optional<int> code = step.Wait(timeout);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "tm-step did not exit within " << timeout.count()
                                                                         << " ms; stderr:\n"
                                                                         << step.err());
  return StepResult{*code, step.out(), step.err()};
}

}  // namespace taskmaster::step_test
