#include <stdio.h>
#include <sys/wait.h>

#include <chrono>
#include <string>

#include "operations.h"

namespace taskmaster::bench {

Result<double> Rate(double seconds, const std::function<void()>& prepare,
                    const std::function<Result<int64_t>()>& run) {
  using Clock = std::chrono::steady_clock;
  Clock::duration timed{};
  int64_t items = 0;
  while (std::chrono::duration<double>(timed).count() < seconds) {
    prepare();
    const Clock::time_point start = Clock::now();
    Result<int64_t> done = run();
    timed += Clock::now() - start;
    if (!done.ok()) return done.status();
    items += *done;
  }
  return static_cast<double>(items) / std::chrono::duration<double>(timed).count();
}

Result<std::string> RunCommand(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return Status::Unavailable("cannot run: " + command);
  std::string output;
  char buffer[4096];
  size_t n = 0;
  while ((n = ::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable("failed: " + command + "\n" + output);
  }
  return output;
}

}  // namespace taskmaster::bench
