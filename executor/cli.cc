#include "cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "local.h"
#include "roles.h"
#include "taskmaster/log.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::step {

namespace pr = protocol;

namespace {

// Identity and timing flags of the pod roles; each also reads its TM_* variable.
void AddCommonFlags(CLI::App* cmd, CommonOptions* o) {
  cmd->add_option("--state-key", o->state_key, "Workflow state key (the workflow's uid in Argo)")
      ->envname(pr::kEnvStateKey)
      ->required();
  cmd->add_option("--work-dir", o->work_dir, "Work dir shared with tm-sidecar")
      ->envname(pr::kEnvWorkDir)
      ->capture_default_str();
  cmd->add_option("--attempt", o->attempt, "0-based attempt of this pod ({{retries}})")
      ->envname(pr::kEnvAttempt)
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--last-attempt", o->last_attempt, "Attempt on which a failure is final")
      ->envname(pr::kEnvLastAttempt)
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--grace-seconds", o->grace_seconds, "Pod termination grace period")
      ->envname(pr::kEnvGraceSeconds)
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--ready-timeout", o->ready_timeout_seconds, "Seconds to wait for the sidecar")
      ->envname(pr::kEnvReadyTimeout)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--barrier-timeout", o->barrier_timeout_seconds,
                  "Seconds to wait for the final ack (default min(60, grace - 5))")
      ->envname(pr::kEnvBarrierTimeout)
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--sync-journal", o->sync_journal,
                "fsync every journal record (local mode: the work dir outlives the process)")
      ->envname("TM_SYNC_JOURNAL");
  cmd->add_option("--argo-deadline", o->argo_deadline, "The pod's deadline (RFC 3339)")
      ->envname(pr::kEnvArgoDeadline);
}

// Reads "@path" arguments; anything else is the value itself.
Status ResolveLarge(Env* env, std::string* value) {
  auto resolved = ReadArgument(env, *value);
  if (!resolved.ok()) return resolved.status();
  *value = std::move(resolved).value();
  return Status::OK();
}

}  // namespace

int Main(Env* env, int argc, char** argv) {
  CLI::App app{"tm-step: runs a shard of tasks with durable checkpoints (Taskmaster)", "tm-step"};
  app.set_version_flag("--version", std::string("tm-step ") + TM_VERSION);
  app.require_subcommand(1);

  std::string task_list;
  auto* validate = app.add_subcommand("validate", "Check a task list: exit 0 and a summary, or 2");
  validate->add_option("--task-list", task_list, "JSON array of task IDs, or @FILE")->required();

  InitOptions init;
  auto* init_cmd = app.add_subcommand("init", "Pod role: record the workflow, output pending shards");
  AddCommonFlags(init_cmd, &init.common);
  init_cmd->add_option("--task-list", init.task_list, "JSON array of task IDs, or @FILE")->required();
  init_cmd->add_option("--batch-size", init.batch_size, "Tasks per shard")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  RunOptions run;
  std::string command_json;
  auto* run_cmd = app.add_subcommand("run", "Pod role: run one shard's tasks");
  AddCommonFlags(run_cmd, &run.common);
  run_cmd->add_option("--shard", run.shard, "0-based shard index")
      ->envname(pr::kEnvShard)
      ->check(CLI::NonNegativeNumber)
      ->required();
  run_cmd->add_option("--continue-on-error", run.continue_on_error,
                      "true: attempt every task; false: cancel once failures exceed --max-failures")
      ->envname("TM_CONTINUE_ON_ERROR")
      ->capture_default_str();
  run_cmd->add_option("--max-failures", run.max_failures, "Final failures tolerated")
      ->envname("TM_MAX_FAILURES")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  run_cmd->add_option("--task-timeout", run.task_timeout_seconds, "Seconds per task (0: none)")
      ->envname("TM_TASK_TIMEOUT")
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_option("--command-json", command_json, "The task command as a JSON array, or @FILE")
      ->envname("TM_COMMAND_JSON");
  run_cmd->add_option("--log-dir", run.log_dir, "Write each task's output to DIR/<ordinal>.log");
  run_cmd->add_option("command", run.command, "The task command, after --");

  FinalizeOptions finalize;
  auto* finalize_cmd = app.add_subcommand("finalize", "Pod role: summarize, fail over --max-failures");
  AddCommonFlags(finalize_cmd, &finalize.common);
  finalize_cmd->add_option("--max-failures", finalize.max_failures, "Final failures tolerated")
      ->envname("TM_MAX_FAILURES")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  LocalOptions local;
  auto* local_cmd =
      app.add_subcommand("local", "Run the whole workflow on this machine (init, shards, finalize)");
  local_cmd->add_option("--task-list", local.task_list, "JSON array of task IDs, or @FILE")
      ->envname("TM_TASK_LIST")
      ->required();
  local_cmd->add_option("--state-dir", local.state_dir, "State, work dirs and logs")
      ->envname("TM_STATE_DIR")
      ->capture_default_str();
  local_cmd->add_option("--state-key", local.state_key,
                        "Workflow state key (default: local- and the list hash)")
      ->envname(pr::kEnvStateKey);
  local_cmd->add_option("--batch-size", local.batch_size, "Tasks per shard")
      ->envname("TM_BATCH_SIZE")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  local_cmd->add_option("--parallelism", local.parallelism, "Shards at once (default: CPUs)")
      ->envname("TM_PARALLELISM")
      ->check(CLI::PositiveNumber);
  local_cmd->add_option("--retries", local.retries, "Retries of a failed shard")
      ->envname("TM_RETRIES")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  local_cmd->add_option("--backoff", local.backoff_seconds,
                        "Seconds before the first retry; doubles each time")
      ->envname("TM_BACKOFF")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  local_cmd->add_flag("--continue-on-error", local.continue_on_error,
                      "Attempt every task even after --max-failures final failures")
      ->envname("TM_CONTINUE_ON_ERROR");
  local_cmd->add_option("--max-failures", local.max_failures, "Final failures tolerated")
      ->envname("TM_MAX_FAILURES")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  local_cmd->add_option("--task-timeout", local.task_timeout_seconds, "Seconds per task (0: none)")
      ->envname("TM_TASK_TIMEOUT")
      ->check(CLI::NonNegativeNumber);
  local_cmd->add_option("--postgres", local.postgres, "PostgreSQL DSN instead of SQLite")
      ->envname("TM_POSTGRES_DSN");
  local_cmd->add_option("--redis", local.redis, "Redis URL for the live view (with --postgres)")
      ->envname("TM_REDIS_URL");
  local_cmd->add_option("--sidecar", local.sidecar,
                        "tm-sidecar (default: beside this executable, else on PATH)")
      ->envname("TM_SIDECAR");
  local_cmd->add_option("command", local.command, "The task command, after --");

  std::string checkpoint_file;
  auto* checkpoint = app.add_subcommand("checkpoint", "Inspect a checkpoint document");
  checkpoint->require_subcommand(1);
  auto* verify = checkpoint->add_subcommand("verify", "Exit 0 if valid, 3 if corrupt or truncated");
  verify->add_option("file", checkpoint_file, "Checkpoint document")->required();
  auto* show = checkpoint->add_subcommand("show", "Print the payload of a valid checkpoint");
  show->add_option("file", checkpoint_file, "Checkpoint document")->required();

  std::string install_dir;
  auto* install = app.add_subcommand("install", "Copy this static binary into DIR (init container)");
  install->add_option("dir", install_dir, "Target directory")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, the version, or the error
    if (code == 0) return pr::kExitOk;
    std::cerr << "usage: tm-step validate|local|init|run|finalize|checkpoint|install ... (see tm-step --help)\n";
    return pr::kExitUsage;
  }

  SetUpLogging("tm-step");
  if (validate->parsed()) return Validate(env, task_list);
  if (verify->parsed()) return CheckpointVerify(env, checkpoint_file);
  if (show->parsed()) return CheckpointShow(env, checkpoint_file);
  if (install->parsed()) return Install(env, install_dir);
  if (init_cmd->parsed()) return RunInit(env, init);
  if (finalize_cmd->parsed()) return RunFinalize(env, finalize);
  if (local_cmd->parsed()) {
    local.invocation.assign(argv, argv + argc);
    return RunLocal(env, local);
  }
  if (!command_json.empty()) {
    if (!run.command.empty()) {
      std::cerr << "tm-step: give the command either with --command-json or after --, not both\n";
      return pr::kExitUsage;
    }
    if (Status s = ResolveLarge(env, &command_json); !s.ok()) {
      std::cerr << "tm-step: --command-json: " << s.message() << "\n";
      return pr::kExitUsage;
    }
    auto argv_json = ParseCommandJson(command_json);
    if (!argv_json.ok()) {
      std::cerr << "tm-step: " << argv_json.status().message() << "\n";
      return pr::kExitUsage;
    }
    run.command = std::move(argv_json).value();
  }
  return RunShard(env, run);
}

}  // namespace taskmaster::step
