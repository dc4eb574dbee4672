#include "cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <utility>

#include "local.h"
#include "roles.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/log.h"
#include "taskmaster/protocol.h"
#include "taskmaster/redact.h"
#include "taskmaster/task_list.h"

namespace taskmaster::step {

namespace pr = protocol;
namespace fl = checks;

// Seconds a task may run (--task-timeout), at most: a week.
constexpr double kMaxTaskTimeoutSeconds = 7 * 86400;
// The longest wait a timing flag accepts: a day.
constexpr double kMaxWaitSeconds = 86400;

namespace {

constexpr const char* kUsageLine =
    "usage: tm-step validate|local|init|run|finalize|checkpoint|install ... (see tm-step --help)\n";

// `run` takes the command after -- or as JSON (--command-json, TM_COMMAND_JSON).
struct RunArguments {
  RunOptions options;
  std::string command_json;  // JSON or @path; empty: the command after --
};

// The option structs of every subcommand; CLI11 fills the parsed one.
struct Arguments {
  std::string validate_task_list;
  InitOptions init;
  RunArguments run;
  FinalizeOptions finalize;
  LocalOptions local;
  std::string checkpoint_file;
  std::string install_dir;
};

// The subcommands, to tell which one was parsed (`run` when none of these).
struct Subcommands {
  CLI::App* validate;
  CLI::App* init;
  CLI::App* finalize;
  CLI::App* local;
  CLI::App* checkpoint_verify;
  CLI::App* checkpoint_show;
  CLI::App* install;
};

// Options several subcommands share, with the same help text.
CLI::Option* AddTaskList(CLI::App* cmd, std::string* task_list) {
  return cmd->add_option("--task-list", *task_list, "JSON array of task IDs, or @FILE")
      ->check(fl::NonEmpty("a JSON array of task IDs, or @FILE"))
      ->required();
}

CLI::Option* AddBatchSize(CLI::App* cmd, int64_t* batch_size) {
  return cmd->add_option("--batch-size", *batch_size, "Tasks per shard")
      ->check(fl::WholeNumber(1, pr::kMaxBatchSize))
      ->capture_default_str();
}

void AddMaxFailures(CLI::App* cmd, int64_t* max_failures) {
  cmd->add_option("--max-failures", *max_failures, "Final failures tolerated")
      ->envname("TM_MAX_FAILURES")
      ->check(fl::WholeNumber(0, pr::kMaxFailuresAllowed))
      ->capture_default_str();
}

void AddMaxFailurePercent(CLI::App* cmd, double* percent) {
  cmd->add_option("--max-failure-percent", *percent,
                  "Final failures tolerated as a percentage of the list (0-100), when that is "
                  "more than --max-failures")
      ->envname("TM_MAX_FAILURE_PERCENT")
      ->check(fl::DecimalNumber(0, 100))
      ->capture_default_str();
}

void AddTaskRetries(CLI::App* cmd, int64_t* retries, const char* flags, const char* env) {
  cmd->add_option(flags, *retries,
                  "Failed attempts of a task before one is final (an interrupted attempt does "
                  "not count)")
      ->envname(env)
      ->check(fl::WholeNumber(0, pr::kMaxTaskRetries))
      ->capture_default_str();
}

void AddQuarantineAfter(CLI::App* cmd, int64_t* after) {
  cmd->add_option("--quarantine-after", *after,
                  "Quarantine a task after this many failures in a row with the same error "
                  "fingerprint (0: never)")
      ->envname("TM_QUARANTINE_AFTER")
      ->check(fl::WholeNumber(0, pr::kMaxQuarantineAfter))
      ->capture_default_str();
}

void AddTaskTimeout(CLI::App* cmd, double* seconds) {
  cmd->add_option("--task-timeout", *seconds, "Seconds per task, or 90s, 5m, 2h (0: none)")
      ->envname("TM_TASK_TIMEOUT")
      ->transform(fl::Duration(0, kMaxTaskTimeoutSeconds));
}

void AddCommand(CLI::App* cmd, std::vector<std::string>* command) {
  cmd->add_option("command", *command, "The task command, after --");
}

// Identity and timing flags of the pod roles; each also reads its TM_* variable.
void AddCommonFlags(CLI::App* cmd, CommonOptions* o) {
  cmd->add_option("--state-key", o->state_key, "Workflow state key (the workflow's uid in Argo)")
      ->envname(pr::kEnvStateKey)
      ->check(fl::StateKey())
      ->required();
  cmd->add_option("--work-dir", o->work_dir, "Work dir shared with tm-sidecar")
      ->envname(pr::kEnvWorkDir)
      ->check(fl::NonEmpty("a directory"))
      ->capture_default_str();
  cmd->add_option("--attempt", o->attempt, "0-based attempt of this pod ({{retries}})")
      ->envname(pr::kEnvAttempt)
      ->check(fl::WholeNumber(0, pr::kMaxPodRetries));
  cmd->add_option("--last-attempt", o->last_attempt,
                  "The pod's last attempt: a failure on it is final whatever the budget")
      ->envname(pr::kEnvLastAttempt)
      ->check(fl::WholeNumber(0, pr::kMaxPodRetries));
  cmd->add_option("--grace-seconds", o->grace_seconds, "Pod termination grace period")
      ->envname(pr::kEnvGraceSeconds)
      ->check(fl::WholeNumber(1, pr::kMaxGraceSeconds))
      ->capture_default_str();
  cmd->add_option("--ready-timeout", o->ready_timeout_seconds, "Seconds to wait for the sidecar")
      ->envname(pr::kEnvReadyTimeout)
      ->transform(fl::Duration(0.001, kMaxWaitSeconds))
      ->capture_default_str();
  cmd->add_option("--barrier-timeout", o->barrier_timeout_seconds,
                  "Seconds to wait for the final ack (default min(60, grace - 5))")
      ->envname(pr::kEnvBarrierTimeout)
      ->transform(fl::Duration(0.001, kMaxWaitSeconds));
  cmd->add_flag("--sync-journal", o->sync_journal,
                "fsync every journal record (local mode: the work dir outlives the process)")
      ->envname("TM_SYNC_JOURNAL");
  cmd->add_option("--argo-deadline", o->argo_deadline, "The pod's deadline (RFC 3339)")
      ->envname(pr::kEnvArgoDeadline)
      ->check(fl::NonEmpty("an RFC 3339 time"));
}

CLI::App* AddValidate(CLI::App* app, std::string* task_list) {
  auto* cmd = app->add_subcommand("validate", "Check a task list: exit 0 and a summary, or 2");
  AddTaskList(cmd, task_list);
  return cmd;
}

CLI::App* AddInit(CLI::App* app, InitOptions* init) {
  auto* cmd = app->add_subcommand("init", "Pod role: record the workflow, output pending shards");
  AddCommonFlags(cmd, &init->common);
  cmd->add_option("--task-list", init->task_list,
                  "JSON array of task IDs, or @FILE; empty: the list recorded under the state key "
                  "(tm-sidecar submit)");
  AddBatchSize(cmd, &init->batch_size);
  cmd->add_option("--max-shards", init->max_shards,
                  "At most this many shards: the batch size is raised to fit")
      ->envname("TM_MAX_SHARDS")
      ->check(fl::WholeNumber(1, pr::kMaxShards))
      ->capture_default_str();
  cmd->add_option("--parallelism", init->parallelism,
                  "Shards at once in Argo: the lanes of the lanes/lane-plan outputs")
      ->envname("TM_PARALLELISM")
      ->check(fl::WholeNumber(1, pr::kMaxParallelism))
      ->capture_default_str();
  cmd->add_flag("--no-inline-limit", init->no_inline_limit,
                "Accept a task list of any size (tm-step local: no Argo object carries it)");
  return cmd;
}

void AddRun(CLI::App* app, RunArguments* run) {
  auto* cmd = app->add_subcommand("run", "Pod role: run one shard's tasks");
  RunOptions& o = run->options;
  AddCommonFlags(cmd, &o.common);
  cmd->add_option("--shard", o.shard, "0-based shard index")
      ->envname(pr::kEnvShard)
      ->check(fl::WholeNumber(0, pr::kMaxShards - 1))
      ->required();
  cmd->add_option("--continue-on-error", o.continue_on_error,
                  "true: attempt every task; false: cancel once failures exceed --max-failures")
      ->envname("TM_CONTINUE_ON_ERROR")
      ->check(fl::OneOf({"true", "false"}))
      ->capture_default_str();
  AddMaxFailures(cmd, &o.max_failures);
  AddMaxFailurePercent(cmd, &o.max_failure_percent);
  AddTaskRetries(cmd, &o.task_retries, "--task-retries", "TM_TASK_RETRIES");
  AddQuarantineAfter(cmd, &o.quarantine_after);
  AddTaskTimeout(cmd, &o.task_timeout_seconds);
  cmd->add_option("--command-json", run->command_json, "The task command as a JSON array, or @FILE")
      ->envname("TM_COMMAND_JSON")
      ->check(fl::NonEmpty("a JSON array of strings, or @FILE"));
  cmd->add_option("--log-dir", o.log_dir, "Write each task's output to DIR/<ordinal>.log")
      ->check(fl::NonEmpty("a directory"));
  AddCommand(cmd, &o.command);
}

CLI::App* AddFinalize(CLI::App* app, FinalizeOptions* finalize) {
  auto* cmd = app->add_subcommand("finalize", "Pod role: summarize, fail over --max-failures");
  AddCommonFlags(cmd, &finalize->common);
  AddMaxFailures(cmd, &finalize->max_failures);
  AddMaxFailurePercent(cmd, &finalize->max_failure_percent);
  return cmd;
}

CLI::App* AddLocal(CLI::App* app, LocalOptions* local) {
  auto* cmd = app->add_subcommand(
      "local", "Run the whole workflow on this machine (init, shards, finalize)");
  AddTaskList(cmd, &local->task_list)->envname("TM_TASK_LIST");
  cmd->add_option("--state-dir", local->state_dir, "State, work dirs and logs")
      ->envname("TM_STATE_DIR")
      ->check(fl::NonEmpty("a directory"))
      ->capture_default_str();
  cmd->add_option("--state-key", local->state_key,
                  "Workflow state key (default: local- and the list hash)")
      ->envname(pr::kEnvStateKey)
      ->check(fl::StateKey());
  AddBatchSize(cmd, &local->batch_size)->envname("TM_BATCH_SIZE");
  cmd->add_option("--parallelism", local->parallelism, "Shards at once (default: CPUs)")
      ->envname("TM_PARALLELISM")
      ->check(fl::WholeNumber(1, pr::kMaxParallelism));
  AddTaskRetries(cmd, &local->retries, "--retries,--task-retries", "TM_RETRIES");
  AddQuarantineAfter(cmd, &local->quarantine_after);
  cmd->add_option("--pod-retries", local->pod_retries,
                  "Attempts of a shard after its first, whatever ended them (interruptions too)")
      ->envname("TM_POD_RETRIES")
      ->check(fl::WholeNumber(0, pr::kMaxPodRetries))
      ->capture_default_str();
  cmd->add_option("--backoff", local->backoff_seconds,
                  "Seconds before the first retry; doubles each time")
      ->envname("TM_BACKOFF")
      ->transform(fl::Duration(0, kMaxWaitSeconds))
      ->capture_default_str();
  cmd->add_flag("--continue-on-error", local->continue_on_error,
                "Attempt every task even after --max-failures final failures")
      ->envname("TM_CONTINUE_ON_ERROR");
  AddMaxFailures(cmd, &local->max_failures);
  AddMaxFailurePercent(cmd, &local->max_failure_percent);
  AddTaskTimeout(cmd, &local->task_timeout_seconds);
  cmd->add_option("--postgres", local->postgres, "PostgreSQL DSN instead of SQLite")
      ->envname("TM_POSTGRES_DSN")
      ->check(fl::NonEmpty("a PostgreSQL DSN"));
  cmd->add_option("--redis", local->redis, "Redis URL for the live view (with --postgres)")
      ->envname("TM_REDIS_URL")
      ->check(fl::NonEmpty("a Redis URL"));
  cmd->add_option("--sidecar", local->sidecar,
                  "tm-sidecar (default: beside this executable, else on PATH)")
      ->envname("TM_SIDECAR")
      ->check(fl::NonEmpty("the path of tm-sidecar"));
  AddCommand(cmd, &local->command);
  return cmd;
}

// `checkpoint verify|show FILE`: returns the two sub-subcommands.
std::pair<CLI::App*, CLI::App*> AddCheckpoint(CLI::App* app, std::string* file) {
  auto* cmd = app->add_subcommand("checkpoint", "Inspect a checkpoint document");
  cmd->require_subcommand(1);
  auto* verify = cmd->add_subcommand("verify", "Exit 0 if valid, 3 if corrupt or truncated");
  verify->add_option("file", *file, "Checkpoint document")
      ->check(fl::NonEmpty("a file"))
      ->required();
  auto* show = cmd->add_subcommand("show", "Print the payload of a valid checkpoint");
  show->add_option("file", *file, "Checkpoint document")->check(fl::NonEmpty("a file"))->required();
  return {verify, show};
}

CLI::App* AddInstall(CLI::App* app, std::string* dir) {
  auto* cmd = app->add_subcommand("install", "Copy this static binary into DIR (init container)");
  cmd->add_option("dir", *dir, "Target directory")->check(fl::NonEmpty("a directory"))->required();
  return cmd;
}

// Declares every subcommand on `app`, in the order --help lists them.
Subcommands AddSubcommands(CLI::App* app, Arguments* args) {
  Subcommands cmds;
  cmds.validate = AddValidate(app, &args->validate_task_list);
  cmds.init = AddInit(app, &args->init);
  AddRun(app, &args->run);
  cmds.finalize = AddFinalize(app, &args->finalize);
  cmds.local = AddLocal(app, &args->local);
  std::tie(cmds.checkpoint_verify, cmds.checkpoint_show) =
      AddCheckpoint(app, &args->checkpoint_file);
  cmds.install = AddInstall(app, &args->install_dir);
  return cmds;
}

// Takes the command from --command-json when given. The message is what
// tm-step prints after "tm-step: " before exiting 2.
Status ResolveCommandJson(Env* env, RunArguments* run) {
  if (run->command_json.empty()) return Status::OK();
  if (!run->options.command.empty()) {
    return Status::InvalidArgument(
        "give the command either with --command-json or after --, not both");
  }
  // Reads "@path" arguments; anything else is the value itself.
  auto json = ReadArgument(env, run->command_json);
  if (!json.ok()) return Status::InvalidArgument("--command-json: " + json.status().message());
  auto argv = ParseCommandJson(*json);
  if (!argv.ok()) return argv.status();
  run->options.command = std::move(argv).value();
  return Status::OK();
}

int RunShardCommand(Env* env, RunArguments* run) {
  if (Status s = ResolveCommandJson(env, run); !s.ok()) {
    std::cerr << "tm-step: " << s.message() << "\n";
    return pr::kExitUsage;
  }
  return RunShard(env, run->options);
}

}  // namespace

int Main(Env* env, int argc, char** argv) {
  CLI::App app{"tm-step: runs a shard of tasks with durable checkpoints (Taskmaster)", "tm-step"};
  app.set_version_flag("--version", std::string("tm-step ") + TM_VERSION);
  app.require_subcommand(1);
  Arguments args;
  const Subcommands cmds = AddSubcommands(&app, &args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, the version, or the error
    if (code == 0) return pr::kExitOk;
    std::cerr << kUsageLine;
    return pr::kExitUsage;
  }

  SetUpLogging("tm-step");
  if (cmds.validate->parsed()) return Validate(env, args.validate_task_list);
  if (cmds.checkpoint_verify->parsed()) return CheckpointVerify(env, args.checkpoint_file);
  if (cmds.checkpoint_show->parsed()) return CheckpointShow(env, args.checkpoint_file);
  if (cmds.install->parsed()) return Install(env, args.install_dir);
  if (cmds.init->parsed()) return RunInit(env, args.init);
  if (cmds.finalize->parsed()) return RunFinalize(env, args.finalize);
  if (cmds.local->parsed()) {
    // Printed back as the command that resumes: never with a password.
    for (int i = 0; i < argc; ++i) args.local.invocation.push_back(RedactPasswords(argv[i]));
    return RunLocal(env, args.local);
  }
  return RunShardCommand(env, &args.run);
}

}  // namespace taskmaster::step
