// `tm-sidecar history KEY TASK [-o ...]`: the task's state and its kept
// attempts (the last kAttemptsKeptPerTask), oldest first.
#include <iostream>
#include <memory>

#include "commands/commands.h"
#include "commands/output.h"
#include "task_json.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

struct HistoryFlags {
  std::string key;
  std::string task;
  std::string output;
};

std::string OrDash(const std::string& text) {
  return text.empty() ? "-" : text;
}

void PrintTable(const TaskHistory& h, bool wide) {
  const TaskRow& t = h.task;
  std::cout << "Task " << t.task_id << " (ordinal " << t.ordinal << "): " << ToString(t.status)
            << (t.status == TaskStatus::kFailed && t.final ? " (final)" : "") << ", generation "
            << t.generation << "\n";
  if (h.attempts.empty()) {
    std::cout << "No attempts recorded.\n";
    return;
  }
  Table table({"ATTEMPT", "FENCE", "SHARD", "POD", "STARTED", "FINISHED", "DURATION", "OUTCOME",
               "EXIT", "GENERATION", "ERROR"},
              wide ? 0 : 60);
  for (const AttemptRow& a : h.attempts) {
    table.Add({std::to_string(a.attempt), std::to_string(a.fence), std::to_string(a.shard),
               OrDash(a.pod), HumanTime(a.started_at_ms), HumanTime(a.finished_at_ms),
               HumanDuration(a.duration_ms), ToString(a.outcome),
               a.exit_code ? std::to_string(*a.exit_code) : "-", std::to_string(a.generation),
               OrDash(a.error)});
  }
  table.Print(std::cout);
}

int RunHistory(const StoreFlags& stores, const HistoryFlags& flags) {
  if (Status s = ValidateId(flags.task, "task ID"); !s.ok()) return Usage(s);
  const OutputFormat format = ResolveOutputFormat(flags.output);
  int exit_code = pr::kExitOk;
  auto workflow = LoadStoredWorkflow(stores, flags.key, &exit_code);
  if (!workflow) return exit_code;
  auto history = workflow->store->LoadTaskHistory(flags.key, flags.task);
  if (!history.ok()) {
    std::cerr << "tm-sidecar: " << history.status().message() << "\n";
    return history.status().IsNotFound() ? pr::kExitUsage : pr::kExitFailed;
  }
  switch (format) {
    case OutputFormat::kJson:
      std::cout << TaskHistoryJson(flags.key, *history) << "\n";
      break;
    case OutputFormat::kJsonl:
      for (const AttemptRow& a : history->attempts) {
        JsonWriter w;
        WriteAttemptRow(a, &w);
        std::cout << w.Take() << "\n";
      }
      break;
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      PrintTable(*history, format == OutputFormat::kWide);
      break;
  }
  return pr::kExitOk;
}

}  // namespace

Subcommand AddHistoryCommand(CLI::App* app, StoreFlags* stores) {
  auto flags = std::make_shared<HistoryFlags>();
  CLI::App* history =
      app->add_subcommand("history", "Show TASK of KEY and its recent attempts (the last " +
                                         std::to_string(kAttemptsKeptPerTask) + ")");
  AddStoreFlags(history, stores);
  history->add_option("key", flags->key, "State key")->required();
  history->add_option("task", flags->task, "Task ID")->required();
  AddOutputFlag(history, &flags->output);
  return {history, [stores, flags] { return RunHistory(*stores, *flags); }};
}

}  // namespace taskmaster::sidecar
