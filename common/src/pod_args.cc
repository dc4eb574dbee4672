#include "taskmaster/pod_args.h"

#include <fmt/format.h>

namespace taskmaster::protocol {
namespace {

void AddFlag(std::vector<std::string>* argv, const char* name, std::string value) {
  argv->push_back(name);
  argv->push_back(std::move(value));
}

std::vector<std::string> StepArgv(const StepCommonArgs& common, const char* verb) {
  std::vector<std::string> argv = {common.program, verb};
  if (common.sync_journal) argv.push_back("--sync-journal");
  AddFlag(&argv, "--state-key", common.state_key);
  AddFlag(&argv, kWorkDirFlag, common.work_dir);
  return argv;
}

}  // namespace

std::vector<std::string> SidecarArgs::ToArgv() const {
  std::vector<std::string> argv = {program, "--local"};
  AddFlag(&argv, "--role", ToString(role));
  AddFlag(&argv, "--shard", std::to_string(shard));
  AddFlag(&argv, "--state-key", state_key);
  AddFlag(&argv, kWorkDirFlag, work_dir);
  AddFlag(&argv, "--listen", listen);
  AddFlag(&argv, "--port-file", port_file);
  AddFlag(&argv, "--grace-seconds", std::to_string(grace_seconds));
  if (!progress_file.empty()) AddFlag(&argv, "--progress-file", progress_file);
  return argv;
}

std::vector<std::string> StepInitArgs::ToArgv() const {
  std::vector<std::string> argv = StepArgv(common, ToString(Role::kInit));
  AddFlag(&argv, "--task-list", task_list);
  AddFlag(&argv, "--batch-size", std::to_string(batch_size));
  AddFlag(&argv, "--max-shards", std::to_string(max_shards));
  if (no_inline_limit) argv.push_back("--no-inline-limit");
  return argv;
}

std::vector<std::string> StepRunArgs::ToArgv() const {
  std::vector<std::string> argv = StepArgv(common, "run");
  AddFlag(&argv, "--shard", std::to_string(shard));
  AddFlag(&argv, "--attempt", std::to_string(attempt));
  AddFlag(&argv, "--last-attempt", std::to_string(last_attempt));
  if (!log_dir.empty()) AddFlag(&argv, "--log-dir", log_dir);
  AddFlag(&argv, "--continue-on-error", continue_on_error ? "true" : "false");
  AddFlag(&argv, "--max-failures", std::to_string(max_failures));
  // fmt's shortest form, as the option parser reads it back: 2, 0.5, 1e-05.
  if (task_timeout_seconds > 0)
    AddFlag(&argv, "--task-timeout", fmt::format("{}", task_timeout_seconds));
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::vector<std::string> StepFinalizeArgs::ToArgv() const {
  std::vector<std::string> argv = StepArgv(common, ToString(Role::kFinalize));
  AddFlag(&argv, "--max-failures", std::to_string(max_failures));
  return argv;
}

}  // namespace taskmaster::protocol
