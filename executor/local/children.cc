#include "local/children.h"

#include <signal.h>
#include <sys/wait.h>

#include <set>

#include "taskmaster/protocol.h"

namespace taskmaster::step::local {

namespace pr = protocol;

namespace {

const std::set<std::string> kInheritedVariables = {pr::kEnvGraceSeconds,   pr::kEnvReadyTimeout,
                                                   pr::kEnvBarrierTimeout, "TM_LOG_LEVEL",
                                                   "TM_STORE_WAIT",        "TM_TTL"};

bool NotInherited(const std::string& key) {
  const bool ours = key.compare(0, 3, "TM_") == 0 || key.compare(0, 5, "ARGO_") == 0;
  return ours && kInheritedVariables.count(key) == 0;
}

}  // namespace

TaskSpec ChildSpec(std::vector<std::string> argv, const std::string& log_path) {
  TaskSpec spec;
  spec.argv = std::move(argv);
  spec.unset_env_if = NotInherited;
  spec.log_path = log_path;
  spec.own_process_group = false;
  spec.parent_death_signal = SIGTERM;
  spec.control_channel = false;
  spec.stdin_null = true;
  return spec;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace taskmaster::step::local
