// tm-sidecar's subcommands (DESIGN.md §8), one file each, and what they share:
// the store flags and opening what they name. cli.cc builds the command line
// from the Add*Command functions and runs the one that was given; every flag
// also reads its TM_* variable, and bad usage is exit 2 with a message on stderr.
#ifndef TASKMASTER_SIDECAR_COMMANDS_COMMANDS_H_
#define TASKMASTER_SIDECAR_COMMANDS_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cache/live_cache.h"
#include "metrics.h"
#include "sidecar.h"
#include "store/state_store.h"
#include "store/store_factory.h"
#include "taskmaster/env.h"
#include "taskmaster/signal_fd.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// A subcommand added to the command line, and what runs it once parsed. `run`
// owns the subcommand's own flags; the StoreFlags and SidecarFlags given to its
// Add*Command must outlive it.
struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// The stores, for the sidecar and every subcommand.
struct StoreFlags {
  std::string store;     // sqlite:PATH
  std::string postgres;  // DSN
  std::string redis;     // URL
};
void AddStoreFlags(CLI::App* cmd, StoreFlags* flags);

// The sidecar's own flags (no subcommand); `api` shares port_file and
// options.store_wait_seconds.
struct SidecarFlags {
  SidecarOptions options;
  std::string role = "shard";
  std::string listen = "127.0.0.1:9464";
  std::string port_file;
  bool local = false;
  int serve_pods = -1;  // local mode: the socket to serve every pod of a run on (pod_server.h)
};
void AddSidecarFlags(CLI::App* app, SidecarFlags* flags);
// The sidecar of one pod, until its step's commit record is durable and a stop
// came (sidecar.h); the exit code.
int RunSidecarCommand(Env* env, const StoreFlags& stores, SidecarFlags flags);

Subcommand AddMigrateCommand(CLI::App* app, StoreFlags* stores);
Subcommand AddRebuildCacheCommand(CLI::App* app, Env* env, StoreFlags* stores);
Subcommand AddGcCommand(CLI::App* app, Env* env, StoreFlags* stores);
Subcommand AddExpireCommand(CLI::App* app, StoreFlags* stores);
Subcommand AddApiCommand(CLI::App* app, Env* env, StoreFlags* stores, SidecarFlags* sidecar);
Subcommand AddStatusCommand(CLI::App* app, StoreFlags* stores);
Subcommand AddSubmitCommand(CLI::App* app, Env* env, StoreFlags* stores);
// The operator's reads (get.cc, tasks.cc, history.cc; output.h): exit 0, 2 for
// bad usage or an unknown workflow or task, 1 when the store fails.
Subcommand AddGetCommand(CLI::App* app, Env* env, StoreFlags* stores);
Subcommand AddTasksCommand(CLI::App* app, StoreFlags* stores);
Subcommand AddHistoryCommand(CLI::App* app, StoreFlags* stores);
// Failed tasks out and back in (export_failed.cc, requeue.cc): exit 0, 2 for
// bad usage or an unknown workflow or task (nothing written), 1 when a store fails.
Subcommand AddExportFailedCommand(CLI::App* app, StoreFlags* stores);
Subcommand AddRequeueCommand(CLI::App* app, Env* env, StoreFlags* stores);

// "90s", "30m", "24h", "7d" (or plain seconds) to seconds; InvalidArgument otherwise.
Result<int64_t> ParseDurationSeconds(const std::string& text);

// What the subcommands share (shared.cc).

// Prints "tm-sidecar: <message>" to stderr; returns exit code 2.
int Usage(const Status& s);
// The one store the flags name; *name (if given) becomes its metric label.
Result<StoreConfig> ConfiguredStore(const StoreFlags& flags, std::string* name);
Result<std::unique_ptr<StateStore>> OpenConfiguredStore(const StoreFlags& flags);
// Null when no --redis was given.
Result<std::unique_ptr<LiveCache>> OpenConfiguredCache(const StoreFlags& flags);
// A PostgreSQL that cannot be reached yet (a pod's network coming up, a
// database restarting) is tried again with backoff for
// options.store_wait_seconds, counted in `metrics`; a stop signal gives up at
// once. SQLite is opened once.
Result<std::unique_ptr<StateStore>> OpenStoreWaiting(Env* env, const StoreConfig& config,
                                                     const SidecarOptions& options,
                                                     SignalFd* signals, Metrics* metrics);

// Writes the bound HTTP port to `path` (none when empty); a failure is logged.
void WritePortFile(Env* env, const std::string& path, uint16_t port);

// The stored state of one workflow, for the subcommands on one KEY.
struct StoredWorkflow {
  std::unique_ptr<StateStore> store;
  WorkflowState state;
};
// Checks KEY, opens the store and loads the workflow's state; on failure
// prints why and returns the exit code instead.
std::optional<StoredWorkflow> LoadStoredWorkflow(const StoreFlags& stores, const std::string& key,
                                                 int* exit_code);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_COMMANDS_COMMANDS_H_
