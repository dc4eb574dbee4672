#include "cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <utility>

#include "commands/commands.h"
#include "taskmaster/log.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {

int Main(Env* env, int argc, char** argv) {
  CLI::App app{"tm-sidecar: persists a Taskmaster step's journal to the stores", "tm-sidecar"};
  app.set_version_flag("--version", std::string("tm-sidecar ") + TM_VERSION);

  StoreFlags stores;
  SidecarFlags sidecar;
  AddStoreFlags(&app, &stores);
  AddSidecarFlags(&app, &sidecar);
  // Added in the order --help lists them.
  const Subcommand migrate = AddMigrateCommand(&app, &stores);
  const Subcommand rebuild = AddRebuildCacheCommand(&app, env, &stores);
  const Subcommand gc = AddGcCommand(&app, env, &stores);
  const Subcommand expire = AddExpireCommand(&app, &stores);
  const Subcommand api = AddApiCommand(&app, env, &stores, &sidecar);
  const Subcommand submit = AddSubmitCommand(&app, env, &stores);
  const Subcommand status = AddStatusCommand(&app, &stores);
  const Subcommand get = AddGetCommand(&app, env, &stores);
  const Subcommand tasks = AddTasksCommand(&app, &stores);
  const Subcommand history = AddHistoryCommand(&app, &stores);
  const Subcommand export_failed = AddExportFailedCommand(&app, &stores);
  const Subcommand requeue = AddRequeueCommand(&app, env, &stores);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    if (code == 0) return protocol::kExitOk;
    std::cerr << "usage: tm-sidecar [store flags] [--work-dir DIR] [--listen ADDR] | migrate | "
                 "rebuild-cache KEY | gc --older-than D | expire KEY | "
                 "submit --task-list JSON|@FILE | status KEY | get KEY | tasks KEY | "
                 "history KEY TASK | api [--listen ADDR]\n";
    return protocol::kExitUsage;
  }
  SetUpLogging("tm-sidecar");

  // Subcommands can be chained on one command line: the first of these given runs.
  for (const Subcommand* command : {&api, &migrate, &submit, &status, &get, &tasks, &history,
                                    &export_failed, &requeue, &rebuild, &expire, &gc}) {
    if (command->app->parsed()) return command->run();
  }
  return RunSidecarCommand(env, stores, std::move(sidecar));
}

}  // namespace taskmaster::sidecar
