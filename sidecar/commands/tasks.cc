// `tm-sidecar tasks KEY [--status S] [--limit N] [--after ORDINAL] [-o ...]`:
// one keyset page of the workflow's tasks in list order, and the --after of
// the next page.
#include <iostream>
#include <memory>
#include <optional>

#include "commands/commands.h"
#include "commands/output.h"
#include "task_json.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

struct TasksFlags {
  std::string key;
  std::string output;
  std::optional<std::string> status, limit, after;
};

// An error cut for a table; the JSON forms have all of it.
constexpr size_t kErrorWidth = 60;

std::string StatusCell(const TaskRow& t) {
  return t.status == TaskStatus::kFailed && t.final ? "failed (final)" : ToString(t.status);
}

std::string ExitCell(const std::optional<int>& code) {
  return code ? std::to_string(*code) : "-";
}

void PrintTable(const TaskPage& page, bool wide) {
  std::vector<std::string> headers = {"ORDINAL", "TASK", "STATUS", "ATTEMPTS", "EXIT", "DURATION"};
  if (wide) headers.insert(headers.end(), {"STARTED", "FINISHED", "GENERATION"});
  headers.push_back("ERROR");
  Table table(std::move(headers), wide ? 0 : kErrorWidth);
  for (const TaskRow& t : page.tasks) {
    std::vector<std::string> row = {std::to_string(t.ordinal),
                                    t.task_id,
                                    StatusCell(t),
                                    std::to_string(t.attempts),
                                    ExitCell(t.exit_code),
                                    HumanDuration(t.duration_ms)};
    if (wide) {
      row.insert(row.end(), {HumanTime(t.started_at_ms), HumanTime(t.finished_at_ms),
                             std::to_string(t.generation)});
    }
    row.push_back(t.error.empty() ? "-" : t.error);
    table.Add(std::move(row));
  }
  if (page.tasks.empty()) {
    std::cout << "No tasks.\n";
  } else {
    table.Print(std::cout);
  }
}

int RunTasks(const StoreFlags& stores, const TasksFlags& flags) {
  auto query = ParseTaskQuery(flags.status, flags.limit, flags.after, "--");
  if (!query.ok()) return Usage(query.status());
  const OutputFormat format = ResolveOutputFormat(flags.output);
  int exit_code = pr::kExitOk;
  auto workflow = LoadStoredWorkflow(stores, flags.key, &exit_code);
  if (!workflow) return exit_code;
  auto page = workflow->store->ListTasks(flags.key, *query);
  if (!page.ok()) {
    std::cerr << "tm-sidecar: " << flags.key << ": " << page.status().message() << "\n";
    return page.status().IsNotFound() ? pr::kExitUsage : pr::kExitFailed;
  }
  switch (format) {
    case OutputFormat::kJson:
      std::cout << TaskPageJson(flags.key, *page) << "\n";
      return pr::kExitOk;
    case OutputFormat::kJsonl:
      for (const TaskRow& t : page->tasks) {
        JsonWriter w;
        WriteTaskRow(t, &w);
        std::cout << w.Take() << "\n";
      }
      // stdout holds only tasks; the next page is said on stderr.
      if (page->next_after) std::cerr << "next page: --after " << *page->next_after << "\n";
      return pr::kExitOk;
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      PrintTable(*page, format == OutputFormat::kWide);
      if (page->next_after) std::cout << "\nNext page: --after " << *page->next_after << "\n";
      return pr::kExitOk;
  }
  return pr::kExitOk;
}

}  // namespace

Subcommand AddTasksCommand(CLI::App* app, StoreFlags* stores) {
  auto flags = std::make_shared<TasksFlags>();
  CLI::App* tasks =
      app->add_subcommand("tasks", "List KEY's tasks in list order, a page at a time");
  AddStoreFlags(tasks, stores);
  tasks->add_option("key", flags->key, "State key")->required();
  tasks->add_option("--status", flags->status,
                    "Only tasks in this status: pending, running, succeeded, failed, "
                    "interrupted, cancelled or quarantined");
  tasks->add_option("--limit", flags->limit,
                    "Tasks per page, 1 to " + std::to_string(kMaxTaskPageSize) + " (default " +
                        std::to_string(kDefaultTaskPageSize) + ")");
  tasks->add_option("--after", flags->after,
                    "Start after this ordinal (the 'Next page: --after N' of the previous page)");
  AddOutputFlag(tasks, &flags->output);
  return {tasks, [stores, flags] { return RunTasks(*stores, *flags); }};
}

}  // namespace taskmaster::sidecar
